//! The exposition body of a server's metrics in the negotiated format, and gzip for scrapers that
//! ask for it.
//!
//! The engine writes every format itself (`dcc_mcp_telemetry::expose`), including a `# HELP` /
//! `# TYPE` header for a family without series yet: a fresh server (no tools, no jobs) still shows
//! its whole metric surface, so dashboards can tell "no traffic" from "not exported". The
//! `process_*` figures come from the `prometheus` crate's process collector (it reads `/proc`
//! through `procfs`) and are handed to the engine's encoders as constants, so one encoder writes
//! the whole body and families stay sorted by name across both sources.

use std::io::Write as _;

use dcc_mcp_telemetry::{ConstMetric, MetricKind, Registry};
use prometheus::proto::{MetricFamily, MetricType};

use super::negotiate::Format;

/// A family this server always exposes, with or without series (its help text lives here).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Declared {
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
}

/// The unlabelled counters and gauges of `gathered` (the process collector's families).
fn constants(gathered: &[MetricFamily]) -> Vec<ConstMetric> {
    gathered
        .iter()
        .filter_map(|mf| {
            let m = mf.get_metric().first()?;
            let (kind, value) = match mf.get_field_type() {
                MetricType::COUNTER => (MetricKind::Counter, m.get_counter().get_value()),
                MetricType::GAUGE => (MetricKind::Gauge, m.get_gauge().get_value()),
                _ => return None,
            };
            Some(ConstMetric {
                name: mf.name().to_owned(),
                help: mf.help().to_owned(),
                kind,
                value,
            })
        })
        .collect()
}

/// The body of a scrape: `engine`'s families and the `process` families, in `format`.
pub(crate) fn encode(engine: &Registry, process: &[MetricFamily], format: Format) -> Vec<u8> {
    let extra = constants(process);
    let mut out = Vec::with_capacity(16 * 1024);
    match format {
        Format::Text => engine.encode_text_with(&extra, &mut out),
        Format::OpenMetrics1 | Format::OpenMetrics0 => {
            engine.encode_openmetrics_with(&extra, &mut out)
        }
        Format::Protobuf => engine.encode_protobuf_with(&extra, &mut out),
    }
    out
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
    fn process_families_become_constants_among_the_engine_families() {
        let reg = prometheus::Registry::new();
        let c = prometheus::Counter::new("b_cpu_seconds_total", "CPU.").unwrap();
        let g = prometheus::Gauge::new("d_rss_bytes", "RSS.").unwrap();
        reg.register(Box::new(c.clone())).unwrap();
        reg.register(Box::new(g.clone())).unwrap();
        c.inc_by(0.5);
        g.set(4096.0);
        let engine = Registry::new();
        engine.counter("c_total", "C.").unwrap().inc_by(3);
        let text = encode(&engine, &reg.gather(), Format::Text);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "# HELP b_cpu_seconds_total CPU.\n# TYPE b_cpu_seconds_total counter\nb_cpu_seconds_total 0.5\n\
             # HELP c_total C.\n# TYPE c_total counter\nc_total 3\n\
             # HELP d_rss_bytes RSS.\n# TYPE d_rss_bytes gauge\nd_rss_bytes 4096\n\
             # HELP dcc_mcp_telemetry_series_overflow_total with_label_values calls answered with a family's overflow series because the family reached its series cap.\n\
             # TYPE dcc_mcp_telemetry_series_overflow_total counter\n"
        );
        let om = String::from_utf8(encode(&engine, &reg.gather(), Format::OpenMetrics1)).unwrap();
        assert!(om.starts_with("# TYPE b_cpu_seconds counter\n# UNIT b_cpu_seconds seconds\n# HELP b_cpu_seconds CPU.\nb_cpu_seconds_total 0.5\n"), "{om}");
        assert!(om.ends_with("\n# EOF\n"), "{om}");
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
