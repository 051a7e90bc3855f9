//! Static bearer tokens for `/mcp`: the configuration value and its file format.
//!
//! Why a type of its own: the tokens are secrets, so `Debug` (and therefore the derived `Debug` of
//! [`McpHttpConfig`](crate::McpHttpConfig)) prints only how many there are; and the file format
//! (one token per line, blank lines and `#` comments ignored) is parsed in one place, used by the
//! `dcc-mcp-server` binary and the Python binding alike. Checking a presented token is the HTTP
//! transport's job (`crate::bearer`).

use std::fmt;

use crate::error::ConfigError;

/// The static bearer tokens accepted on `/mcp`. Empty (the default): no static token is accepted,
/// and `/mcp` needs no authentication unless another scheme is configured.
///
/// `Debug` never prints a token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BearerTokens(Vec<String>);

impl BearerTokens {
    /// Tokens from a list (each taken as it is; [`validate`](Self::validate) rejects bad ones).
    pub fn new<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(tokens.into_iter().map(Into::into).collect())
    }

    /// Tokens from the text of a token file: one token per line, surrounding whitespace trimmed,
    /// blank lines and lines starting with `#` ignored.
    pub fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The tokens, in file order.
    pub fn tokens(&self) -> &[String] {
        &self.0
    }

    /// `true` when no token is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every token must be a non-empty RFC 6750 `b64token` (`A-Z a-z 0-9 - . _ ~ + /`, then `=`
    /// padding only), so a presented `Authorization` header can match it exactly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (index, token) in self.0.iter().enumerate() {
            if !is_b64token(token) {
                return Err(ConfigError::InvalidBearerToken { index });
            }
        }
        Ok(())
    }
}

/// RFC 6750 §2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerTokens({} redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_format_skips_blanks_and_comments() {
        let tokens = BearerTokens::parse("# tokens\n\n  alpha-1  \n#beta\r\ngamma.2~\r\n   \n");
        assert_eq!(tokens.tokens(), ["alpha-1", "gamma.2~"]);
        assert!(BearerTokens::parse("# only a comment\n\n").is_empty());
    }

    #[test]
    fn validation_names_the_bad_token() {
        assert!(BearerTokens::new(["abc", "a+b/c==", "x"])
            .validate()
            .is_ok());
        for (bad, index) in [
            (vec!["ok", "has space"], 1),
            (vec!["==="], 0),
            (vec![""], 0),
        ] {
            assert_eq!(
                BearerTokens::new(bad).validate(),
                Err(ConfigError::InvalidBearerToken { index })
            );
        }
        assert!(!is_b64token("a=b"));
        assert!(!is_b64token("é"));
    }

    #[test]
    fn debug_hides_tokens() {
        let tokens = BearerTokens::new(["secret-token"]);
        assert_eq!(format!("{tokens:?}"), "BearerTokens(1 redacted)");
    }
}
