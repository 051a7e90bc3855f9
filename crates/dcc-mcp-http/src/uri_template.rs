//! RFC 6570 URI templates, as resource templates use them: expansion and the reverse, matching a URI
//! against a template to recover its variables.
//!
//! Supported: level 1 simple expansion (`{var}`, the value percent-encoded except for unreserved
//! characters) and level 2 reserved expansion (`{+var}`, reserved characters such as `/` kept). A
//! variable matches up to the literal that follows it; a simple variable never spans a reserved
//! character, which is what makes `scene://{shot}/{take}` split where a reader expects.

use std::collections::BTreeMap;
use std::fmt;

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{` without a closing `}`, or a `}` without an opening one.
    #[error("unbalanced braces in URI template {0:?}")]
    Unbalanced(String),
    /// An expression this implementation does not support (operators other than `+`, lists, modifiers).
    #[error("unsupported URI template expression {{{0}}} (only {{var}} and {{+var}})")]
    Unsupported(String),
    /// Two variables with nothing between them cannot be told apart when matching.
    #[error("URI template {0:?} has two adjacent variables")]
    Adjacent(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var { name: String, reserved: bool },
}

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn is_reserved(byte: u8) -> bool {
    matches!(
        byte,
        b':' | b'/'
            | b'?'
            | b'#'
            | b'['
            | b']'
            | b'@'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
    )
}

fn encode(value: &str, reserved: bool, out: &mut String) {
    for &byte in value.as_bytes() {
        if is_unreserved(byte) || (reserved && is_reserved(byte)) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'%')
}

impl UriTemplate {
    /// Parse `source`.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    break;
                }
                Some(at) if rest.as_bytes()[at] == b'}' => {
                    return Err(TemplateError::Unbalanced(source.to_owned()))
                }
                Some(at) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    let after = &rest[at + 1..];
                    let end = after
                        .find('}')
                        .ok_or_else(|| TemplateError::Unbalanced(source.to_owned()))?;
                    let expr = &after[..end];
                    let (name, reserved) = match expr.strip_prefix('+') {
                        Some(name) => (name, true),
                        None => (expr, false),
                    };
                    if !valid_name(name) {
                        return Err(TemplateError::Unsupported(expr.to_owned()));
                    }
                    if matches!(parts.last(), Some(Part::Var { .. })) {
                        return Err(TemplateError::Adjacent(source.to_owned()));
                    }
                    parts.push(Part::Var {
                        name: name.to_owned(),
                        reserved,
                    });
                    rest = &after[end + 1..];
                }
            }
        }
        Ok(UriTemplate {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template text as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variable names, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Expand with `values` (a missing variable expands to nothing, as RFC 6570 says).
    pub fn expand(&self, values: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var { name, reserved } => {
                    if let Some(value) = values.get(name) {
                        encode(value, *reserved, &mut out);
                    }
                }
            }
        }
        out
    }

    /// The variables of `uri` if it is an expansion of this template (values percent-decoded).
    pub fn match_uri(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        let mut values = BTreeMap::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(text) => rest = rest.strip_prefix(text.as_str())?,
                Part::Var { name, reserved } => {
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let raw = &rest[..end];
                    if !reserved && raw.bytes().any(is_reserved) {
                        return None;
                    }
                    values.insert(name.clone(), decode(raw)?);
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(values)
    }
}

impl fmt::Display for UriTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn rfc6570_level1_and_level2_expansion() {
        // The RFC's own examples: var = "value", hello = "Hello World!", path = "/foo/bar".
        let values = vars(&[
            ("var", "value"),
            ("hello", "Hello World!"),
            ("path", "/foo/bar"),
        ]);
        let cases = [
            ("{var}", "value"),
            ("{hello}", "Hello%20World%21"),
            ("{+var}", "value"),
            ("{+hello}", "Hello%20World!"),
            ("{+path}/here", "/foo/bar/here"),
            ("here?ref={+path}", "here?ref=/foo/bar"),
            ("X{undefined}Y", "XY"),
        ];
        for (template, expected) in cases {
            assert_eq!(
                UriTemplate::parse(template).unwrap().expand(&values),
                expected,
                "{template}"
            );
        }
    }

    #[test]
    fn matching_recovers_the_variables() {
        let t = UriTemplate::parse("test://template/{id}/data").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["id"]);
        assert_eq!(
            t.match_uri("test://template/123/data"),
            Some(vars(&[("id", "123")]))
        );
        assert_eq!(
            t.match_uri("test://template/a%20b/data"),
            Some(vars(&[("id", "a b")]))
        );
        assert_eq!(t.match_uri("test://template/1/2/data"), None);
        assert_eq!(t.match_uri("test://template/1/datax"), None);
        assert_eq!(t.match_uri("other://template/1/data"), None);
        let two = UriTemplate::parse("scene://{shot}/{take}").unwrap();
        assert_eq!(
            two.match_uri("scene://sh010/3"),
            Some(vars(&[("shot", "sh010"), ("take", "3")]))
        );
        let path = UriTemplate::parse("file://{+path}").unwrap();
        assert_eq!(
            path.match_uri("file:///a/b.ma"),
            Some(vars(&[("path", "/a/b.ma")]))
        );
        // Round trip: what expand writes, match_uri reads back.
        let values = vars(&[("shot", "sh 010/é"), ("take", "7")]);
        assert_eq!(two.match_uri(&two.expand(&values)), Some(values));
    }

    #[test]
    fn refuses_what_it_cannot_match() {
        assert!(matches!(
            UriTemplate::parse("a{b"),
            Err(TemplateError::Unbalanced(_))
        ));
        assert!(matches!(
            UriTemplate::parse("a}b"),
            Err(TemplateError::Unbalanced(_))
        ));
        assert!(matches!(
            UriTemplate::parse("{?q}"),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            UriTemplate::parse("{a,b}"),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            UriTemplate::parse("{a}{b}"),
            Err(TemplateError::Adjacent(_))
        ));
        assert_eq!(
            UriTemplate::parse("plain://x")
                .unwrap()
                .match_uri("plain://x"),
            Some(BTreeMap::new())
        );
    }
}
