//! A minimal keep-alive HTTP/1.1 client for the load generator.
//!
//! Why not a full client: the load generator shares the machine with the server under test, so
//! every cycle it spends is taken from the server. This client writes a prebuilt request and
//! parses only what it needs from the response — status, `Content-Length` or chunked framing, and
//! any headers the caller asks for — over one `tokio` TCP stream per connection, reused for every
//! request. The parsing is split into pure functions ([`parse_head`], [`decode_chunked`]) that the
//! unit tests pin down exactly.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Builds a request with `Host`, the given extra headers and (for a non-empty body)
/// `Content-Length`; the connection stays open (HTTP/1.1 default).
pub fn build_request(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        r.push_str(k);
        r.push_str(": ");
        r.push_str(v);
        r.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The parsed head of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// Body framing.
    pub framing: Framing,
}

impl Head {
    /// The first value of header `name` (give it lower-cased).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// Parses a response head at the start of `buf`. `Ok(None)`: incomplete; `Ok(Some((head, n)))`:
/// the head took `n` bytes. Responses without `Content-Length` or chunked framing have an empty
/// body (this client only talks to servers that frame every body).
pub fn parse_head(buf: &[u8]) -> io::Result<Option<(Head, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(invalid("response head too large"))
        } else {
            Ok(None)
        };
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| invalid("non-UTF-8 head"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(invalid("not an HTTP/1 response"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid("bad status code"))?;
    let mut headers = Vec::new();
    let mut framing = Framing::Length(0);
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| invalid("bad header line"))?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
        if k == "content-length" {
            framing = Framing::Length(v.parse().map_err(|_| invalid("bad Content-Length"))?);
        } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
            framing = Framing::Chunked;
        }
        headers.push((k, v));
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        framing = Framing::Length(0);
    }
    Ok(Some((
        Head {
            status,
            headers,
            framing,
        },
        end + 4,
    )))
}

/// Decodes a chunked body at the start of `buf`. `Ok(None)`: incomplete; `Ok(Some((body, n)))`:
/// the encoded body (including the last chunk and trailers) took `n` bytes.
pub fn decode_chunked(buf: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..pos + eol]).map_err(|_| invalid("bad chunk"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
        pos += eol + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(invalid("chunk not terminated by CRLF"));
        }
        pos += size + 2;
    }
}

/// A response: head and de-framed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status, headers, framing.
    pub head: Head,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects (with `TCP_NODELAY`, as HTTP clients do).
    pub async fn connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one prebuilt request and reads its response.
    pub async fn round_trip(&mut self, request: &[u8]) -> io::Result<Response> {
        self.stream.write_all(request).await?;
        let (head, head_len) = loop {
            if let Some(h) = parse_head(&self.buf)? {
                break h;
            }
            self.fill().await?;
        };
        self.buf.drain(..head_len);
        let body = match head.framing {
            Framing::Length(n) => {
                while self.buf.len() < n {
                    self.fill().await?;
                }
                self.buf.drain(..n).collect()
            }
            Framing::Chunked => loop {
                if let Some((body, used)) = decode_chunked(&self.buf)? {
                    self.buf.drain(..used);
                    break body;
                }
                self.fill().await?;
            },
        };
        Ok(Response { head, body })
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// Splits `http://host:port/path` into (`host:port`, `/path`).
pub fn split_url(url: &str) -> io::Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid("URL has no host"));
    }
    Ok((authority.to_owned(), path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_host_headers_and_length() {
        let r = build_request("POST", "/mcp", "127.0.0.1:1", &[("A", "b")], b"{}");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:1\r\nA: b\r\nContent-Length: 2\r\n\r\n{}"
        );
        let g = build_request("GET", "/metrics", "h", &[], b"");
        assert_eq!(
            String::from_utf8(g).unwrap(),
            "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"
        );
    }

    #[test]
    fn head_with_length_and_headers() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: abc\r\ncontent-length: 5\r\n\r\nhello";
        let (head, n) = parse_head(raw).unwrap().unwrap();
        assert_eq!(n, raw.len() - 5);
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, Framing::Length(5));
        assert_eq!(head.header("mcp-session-id"), Some("abc"));
        assert_eq!(head.header("content-type"), Some("application/json"));
    }

    #[test]
    fn incomplete_and_bodiless_heads() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        let (head, n) = parse_head(b"HTTP/1.1 202 Accepted\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (head.status, head.framing, n),
            (202, Framing::Length(0), 25)
        );
        assert!(parse_head(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_bodies() {
        let raw = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\nNEXT";
        let (body, n) = decode_chunked(raw).unwrap().unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&raw[n..], b"NEXT");
        assert_eq!(decode_chunked(b"5\r\nhel").unwrap(), None);
        assert_eq!(decode_chunked(b"0\r\n").unwrap(), None);
        let (head, _) = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.framing, Framing::Chunked);
    }

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8765/mcp").unwrap(),
            ("127.0.0.1:8765".to_owned(), "/mcp".to_owned())
        );
        assert_eq!(
            split_url("http://h:1").unwrap(),
            ("h:1".to_owned(), "/".to_owned())
        );
        assert!(split_url("https://h/").is_err());
    }
}
