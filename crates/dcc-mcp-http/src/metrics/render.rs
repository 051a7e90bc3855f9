//! Text exposition (format 0.0.4) of a server's metrics, and gzip for scrapers that ask for it.
//!
//! Why not just `TextEncoder::encode(&registry.gather())`: `prometheus::Registry::gather` drops
//! families that have no series yet, and `TextEncoder` refuses an empty family with an error. A
//! fresh server (no tools, no jobs) would then hide most of its metric surface, and dashboards
//! could not tell "no traffic" from "not exported". So every family this server declares is
//! written: families with series go through `TextEncoder` (its escaping of `\\`, `\"` and `\n` is
//! correct, so we keep it), and families without series get their `# HELP` / `# TYPE` lines from
//! here, with the same escaping. Families come out sorted by name, like `gather` sorts them.

use std::collections::BTreeMap;
use std::io::Write as _;

use prometheus::proto::MetricFamily;
use prometheus::TextEncoder;

/// Content type of the text exposition format 0.0.4.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus type of a declared family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A family this server always exposes, with or without series.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Declared {
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) kind: Kind,
}

/// Writes `gathered` plus a header-only block for every `declared` family missing from it.
pub(crate) fn encode(
    declared: &[Declared],
    gathered: &[MetricFamily],
) -> Result<String, prometheus::Error> {
    enum Block<'a> {
        Full(&'a MetricFamily),
        Empty(&'a Declared),
    }
    let mut blocks: BTreeMap<&str, Block<'_>> = BTreeMap::new();
    for d in declared {
        blocks.insert(d.name, Block::Empty(d));
    }
    for mf in gathered {
        if !mf.get_metric().is_empty() {
            blocks.insert(mf.name(), Block::Full(mf));
        }
    }
    let encoder = TextEncoder::new();
    let mut out = String::with_capacity(4096);
    for block in blocks.values() {
        match block {
            Block::Full(mf) => encoder.encode_utf8(std::slice::from_ref(*mf), &mut out)?,
            Block::Empty(d) => write_header(&mut out, d),
        }
    }
    Ok(out)
}

fn write_header(out: &mut String, d: &Declared) {
    out.push_str("# HELP ");
    out.push_str(d.name);
    out.push(' ');
    // HELP text escapes `\` and newline (not `"`), as `TextEncoder` does.
    for c in d.help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(d.name);
    out.push(' ');
    out.push_str(d.kind.as_str());
    out.push('\n');
}

/// `true` when an `Accept-Encoding` value allows gzip: `gzip` (or `x-gzip`, or `*` when gzip is
/// not listed) with a non-zero quality.
pub(crate) fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut wildcard = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f32>().ok())
                    .flatten()
            })
            .next()
            .unwrap_or(1.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return q > 0.0;
        }
        if coding == "*" {
            wildcard = Some(q > 0.0);
        }
    }
    wildcard.unwrap_or(false)
}

/// Gzip-compresses `body` (fast level: exposition text compresses ~10× even so).
pub(crate) fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(body)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_families_get_headers_in_name_order() {
        let declared = [
            Declared {
                name: "b_total",
                help: "B \\ with\nnewline \"quoted\".",
                kind: Kind::Counter,
            },
            Declared {
                name: "a_seconds",
                help: "A.",
                kind: Kind::Histogram,
            },
        ];
        let text = encode(&declared, &[]).unwrap();
        assert_eq!(
            text,
            "# HELP a_seconds A.\n# TYPE a_seconds histogram\n\
             # HELP b_total B \\\\ with\\nnewline \"quoted\".\n# TYPE b_total counter\n"
        );
    }

    #[test]
    fn gathered_families_are_encoded_and_empty_ones_skipped() {
        let reg = prometheus::Registry::new();
        let c = prometheus::IntCounter::new("c_total", "C.").unwrap();
        reg.register(Box::new(c.clone())).unwrap();
        c.inc_by(3);
        let mut empty = MetricFamily::default();
        empty.set_name("c_total".into());
        let declared = [
            Declared {
                name: "c_total",
                help: "C.",
                kind: Kind::Counter,
            },
            Declared {
                name: "d",
                help: "D.",
                kind: Kind::Gauge,
            },
        ];
        let mut gathered = reg.gather();
        gathered.push(empty);
        let text = encode(&declared, &gathered).unwrap();
        assert_eq!(
            text,
            "# HELP c_total C.\n# TYPE c_total counter\nc_total 3\n\
             # HELP d D.\n# TYPE d gauge\n"
        );
    }

    #[test]
    fn accept_encoding_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("GZIP"));
        assert!(accepts_gzip("identity, gzip;q=0.5"));
        assert!(accepts_gzip("deflate, gzip ; q=1"));
        assert!(accepts_gzip("x-gzip"));
        assert!(accepts_gzip("*"));
        assert!(accepts_gzip("br, *;q=0.1"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip;q=0.0, *"));
        assert!(!accepts_gzip("*;q=0"));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let body = "dcc_mcp_build_info 1\n".repeat(100);
        let packed = gzip(body.as_bytes()).unwrap();
        assert!(packed.len() < body.len());
        let mut out = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}
