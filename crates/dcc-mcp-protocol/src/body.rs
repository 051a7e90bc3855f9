//! Parsing a message body (one JSON-RPC message, or a batch) with a bound on the batch length.
//!
//! A batch is counted while it is parsed: the parser stops at message `limit + 1`, so a 4 MB array of
//! tiny requests costs no more memory than the messages allowed, and none of it runs.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde_json::Value;

/// A parsed body.
#[derive(Debug)]
pub enum Parsed {
    /// One JSON value that is not an array.
    Single(Value),
    /// A JSON array of at most the allowed number of values.
    Batch(Vec<Value>),
    /// A JSON array longer than allowed (parsing stopped there).
    TooLarge,
}

/// Parse `bytes` as one JSON value, counting the elements of a top-level array up to `limit`.
pub fn parse(bytes: &[u8], limit: usize) -> Result<Parsed, serde_json::Error> {
    let is_array = bytes
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|byte| *byte == b'[');
    if !is_array {
        return serde_json::from_slice(bytes).map(Parsed::Single);
    }
    let too_large = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Bounded {
        limit,
        too_large: &too_large,
    }
    .deserialize(&mut deserializer);
    if too_large.get() {
        return Ok(Parsed::TooLarge);
    }
    let batch = parsed?;
    deserializer.end()?;
    Ok(Parsed::Batch(batch))
}

struct Bounded<'a> {
    limit: usize,
    too_large: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON array of at most {} messages", self.limit)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut messages = Vec::with_capacity(self.limit.min(64));
        while let Some(message) = seq.next_element::<Value>()? {
            if messages.len() == self.limit {
                self.too_large.set(true);
                return Err(A::Error::custom("too many messages in the batch"));
            }
            messages.push(message);
        }
        Ok(messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches_and_passes_everything_else_through() {
        assert!(matches!(parse(br#" {"a":1}"#, 2), Ok(Parsed::Single(_))));
        assert!(matches!(parse(b"[1,2]", 2), Ok(Parsed::Batch(b)) if b.len() == 2));
        assert!(matches!(parse(b" [1,2,3]", 2), Ok(Parsed::TooLarge)));
        // Parsing stops at the first message past the limit, before any later syntax error.
        assert!(matches!(parse(b"[1,2,3,", 2), Ok(Parsed::TooLarge)));
        assert!(parse(b"[1,2", 2).is_err());
        assert!(parse(b"[1] x", 2).is_err());
        assert!(parse(b"nope", 2).is_err());
    }
}
