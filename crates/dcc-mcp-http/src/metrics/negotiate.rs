//! Which exposition format a scrape gets, from its `Accept` header, the way client_golang's
//! `promhttp` negotiates (`expfmt.NegotiateIncludingOpenMetrics`).
//!
//! Why the same rules: Prometheus, Grafana Agent and every other scraper are written against
//! `promhttp`, so answering the same `Accept` with the same format is what they expect. The media
//! ranges are ordered by quality (highest first; at equal quality a concrete type before `*`, as
//! goautoneg orders them), and the first that names a format we write wins:
//! * `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily` and
//!   `encoding=delimited` → delimited protobuf;
//! * `text/plain` with `version=0.0.4` or no version → text 0.0.4;
//! * `application/openmetrics-text` with `version=1.0.0` → OpenMetrics 1.0.0, with `version=0.0.1`
//!   or no version → the same text labelled 0.0.1 (what promhttp answers; the two versions do not
//!   differ in anything we write).
//!
//! Nothing matching (or no `Accept`) → text 0.0.4. Two deliberate differences from promhttp: a
//! range with `q=0` is skipped (HTTP's "not acceptable"; promhttp ignores q for this), and the
//! protobuf `text`/`compact-text` encodings, which we do not write, are skipped instead of served.

use dcc_mcp_telemetry::expose::{openmetrics, protobuf, text};

/// A format `/metrics` can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Text exposition format 0.0.4.
    Text,
    /// OpenMetrics text, labelled 1.0.0.
    OpenMetrics1,
    /// OpenMetrics text, labelled 0.0.1 (the same body).
    OpenMetrics0,
    /// Length-delimited `io.prometheus.client.MetricFamily` messages.
    Protobuf,
}

impl Format {
    /// The exact `Content-Type` of a response in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => text::CONTENT_TYPE,
            Format::OpenMetrics1 => openmetrics::CONTENT_TYPE,
            Format::OpenMetrics0 => "application/openmetrics-text; version=0.0.1; charset=utf-8",
            Format::Protobuf => protobuf::CONTENT_TYPE,
        }
    }
}

/// One media range of an `Accept` header.
struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f32,
    params: Vec<(&'a str, &'a str)>,
}

impl Range<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

fn parse(accept: &str) -> Vec<Range<'_>> {
    let mut ranges: Vec<Range<'_>> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let media = parts.next()?.trim();
            let (kind, subtype) = media.split_once('/')?;
            let mut q = 1.0;
            let mut params = Vec::new();
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                if k.eq_ignore_ascii_case("q") {
                    q = v.parse().unwrap_or(0.0);
                } else {
                    params.push((k, v));
                }
            }
            Some(Range {
                kind: kind.trim(),
                subtype: subtype.trim(),
                q,
                params,
            })
        })
        .collect();
    // Stable: equal ranges keep the order the client wrote them in.
    ranges.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then((a.kind == "*").cmp(&(b.kind == "*")))
            .then((a.subtype == "*").cmp(&(b.subtype == "*")))
    });
    ranges
}

/// The format for a scrape whose `Accept` header values are `accept` (joined, in order).
pub(crate) fn negotiate(accept: &str) -> Format {
    for r in parse(accept) {
        if r.q <= 0.0 {
            continue;
        }
        let version = r.param("version");
        if r.is("application", "vnd.google.protobuf")
            && r.param("proto") == Some("io.prometheus.client.MetricFamily")
            && r.param("encoding") == Some("delimited")
        {
            return Format::Protobuf;
        }
        if r.is("text", "plain") && matches!(version, None | Some("0.0.4")) {
            return Format::Text;
        }
        if r.is("application", "openmetrics-text") {
            match version {
                Some("1.0.0") => return Format::OpenMetrics1,
                None | Some("0.0.1") => return Format::OpenMetrics0,
                Some(_) => {}
            }
        }
    }
    Format::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prometheus 2.42 sends by default (scrape.go's `scrapeAcceptHeader`).
    const PROMETHEUS_2_42: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
    const PROMETHEUS_2_42_NATIVE: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

    #[test]
    fn prometheus_headers() {
        assert_eq!(negotiate(PROMETHEUS_2_42), Format::OpenMetrics1);
        assert_eq!(negotiate(PROMETHEUS_2_42_NATIVE), Format::Protobuf);
    }

    #[test]
    fn defaults_and_versions() {
        assert_eq!(negotiate(""), Format::Text);
        assert_eq!(negotiate("*/*"), Format::Text);
        assert_eq!(negotiate("application/json"), Format::Text);
        assert_eq!(negotiate("text/plain"), Format::Text);
        assert_eq!(negotiate("text/plain;version=0.0.5"), Format::Text);
        assert_eq!(
            negotiate("application/openmetrics-text"),
            Format::OpenMetrics0
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=0.0.1"),
            Format::OpenMetrics0
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=2.0.0, text/plain"),
            Format::Text
        );
        assert_eq!(
            negotiate("Application/OpenMetrics-Text; Version=1.0.0"),
            Format::OpenMetrics1
        );
    }

    #[test]
    fn quality_orders_the_ranges() {
        assert_eq!(
            negotiate("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0"),
            Format::OpenMetrics1
        );
        assert_eq!(
            negotiate("application/openmetrics-text;version=1.0.0;q=0.2,text/plain;q=0.9"),
            Format::Text
        );
        // Equal quality: the order written.
        assert_eq!(
            negotiate("application/openmetrics-text;version=1.0.0,text/plain"),
            Format::OpenMetrics1
        );
        assert_eq!(
            negotiate("text/plain,application/openmetrics-text;version=1.0.0"),
            Format::Text
        );
        // q=0 is "not acceptable".
        assert_eq!(
            negotiate("application/openmetrics-text;version=1.0.0;q=0,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.1"),
            Format::Protobuf
        );
    }

    #[test]
    fn protobuf_needs_the_proto_and_delimited_encoding() {
        let p = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily";
        assert_eq!(
            negotiate(&format!("{p};encoding=delimited")),
            Format::Protobuf
        );
        assert_eq!(negotiate(&format!("{p};encoding=text")), Format::Text);
        assert_eq!(negotiate(p), Format::Text);
        assert_eq!(
            negotiate("application/vnd.google.protobuf;proto=other;encoding=delimited"),
            Format::Text
        );
    }

    #[test]
    fn content_types_are_exact() {
        assert_eq!(
            Format::Text.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            Format::OpenMetrics1.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(
            Format::Protobuf.content_type(),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        );
    }
}
