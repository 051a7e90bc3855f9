//! An incremental `text/event-stream` parser (the WHATWG event-stream rules MCP uses).
//!
//! A server may answer a `POST` with a short SSE stream, and `GET /mcp` is one long SSE stream, so
//! bytes arrive in arbitrary chunks: an event, a line or a UTF-8 character may be split between
//! two. [`SseParser::push`] takes each chunk as it comes and returns the events it completed.
//! Lines end in `\n`, `\r\n` or `\r`; `data:` lines of one event are joined with `\n`; comment
//! lines (`:` first, the servers' keep-alives) and unknown fields are ignored.

/// One dispatched SSE event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field (`message` when the server gave none).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field, if the event had one (what `Last-Event-ID` resumes from).
    pub id: Option<String>,
    /// The `retry:` field in milliseconds, if the event had one.
    pub retry_ms: Option<u64>,
}

/// Parses an event stream chunk by chunk.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the line not yet terminated.
    line: Vec<u8>,
    /// A `\r` ended the last chunk: a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// The event being built.
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
    retry_ms: Option<u64>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in chunk {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if let Some(event) = self.dispatch() {
                events.push(event);
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.find(':') {
            Some(at) => {
                let value = &text[at + 1..];
                (&text[..at], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&text[..], ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            // An id with a NUL is ignored, as the standard says.
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }

    /// The event built so far, if it has data (an event without `data:` is not dispatched).
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let id = self.id.take();
        let retry_ms = self.retry_ms.take();
        let data = self.data.take()?;
        Some(SseEvent {
            event: event
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "message".to_owned()),
            data,
            id,
            retry_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        chunks.iter().flat_map(|chunk| parser.push(chunk)).collect()
    }

    fn data(event: &SseEvent) -> &str {
        &event.data
    }

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = b"event: message\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: x\r\ndata: y\r\n\r\nid: 7\nretry: 30\ndata:z\r\r";
        let whole = all(&[stream]);
        assert_eq!(whole.len(), 3);
        assert_eq!(
            whole[0],
            SseEvent {
                event: "message".into(),
                data: "{\"a\":1}".into(),
                id: None,
                retry_ms: None
            }
        );
        assert_eq!(data(&whole[1]), "x\ny");
        assert_eq!(whole[2].id.as_deref(), Some("7"));
        assert_eq!(whole[2].retry_ms, Some(30));
        assert_eq!(data(&whole[2]), "z");
        // Every split point, including inside `\r\n`, gives the same events.
        for at in 0..stream.len() {
            assert_eq!(all(&[&stream[..at], &stream[at..]]), whole, "split at {at}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(all(&bytes), whole);
    }

    #[test]
    fn comments_and_events_without_data_dispatch_nothing() {
        assert!(all(&[b": ping\n\nevent: x\n\nid: 3\n\n"]).is_empty());
        // An unterminated event is not dispatched.
        assert!(all(&[b"data: half"]).is_empty());
        // A split multi-byte character survives.
        let text = "data: é\n\n".as_bytes();
        assert_eq!(data(&all(&[&text[..7], &text[7..]])[0]), "é");
        let named = all(&[b"event: endpoint\ndata\n\n"]);
        assert_eq!(
            (named[0].event.as_str(), named[0].data.as_str()),
            ("endpoint", "")
        );
    }
}
