//! `prometheus::core::Collector` for [`Registry`], so a private `prometheus::Registry` and
//! `TextEncoder` render the engine's snapshot (with the `prometheus` crate's label escaping).

use crate::registry::OVERFLOW_METRIC_NAME;
use crate::snapshot::{FamilySnapshot, MetricKind, SampleValue};
use crate::Registry;
use prometheus::core::{Collector, Desc};
use prometheus::proto;

/// The descriptor the collector reports: the registry's overflow counter, which every registry
/// exports. Families are created at run time, so they are not described up front (the
/// `prometheus` registry only uses descriptors to reject duplicate collectors).
fn overflow_desc() -> Option<Desc> {
    Desc::new(
        OVERFLOW_METRIC_NAME.to_owned(),
        "with_label_values calls answered with a family's overflow series.".to_owned(),
        vec!["family".to_owned()],
        Default::default(),
    )
    .ok()
}

impl Collector for Registry {
    fn desc(&self) -> Vec<&Desc> {
        self.inner
            .desc
            .get_or_init(|| overflow_desc().into_iter().collect())
            .iter()
            .collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        self.snapshot()
            .into_iter()
            .filter(|f| !f.series.is_empty())
            .map(to_proto)
            .collect()
    }
}

fn to_proto(f: FamilySnapshot) -> proto::MetricFamily {
    let mut mf = proto::MetricFamily::default();
    mf.set_name(f.name);
    mf.set_help(f.help);
    mf.set_field_type(match f.kind {
        MetricKind::Counter => proto::MetricType::COUNTER,
        MetricKind::Gauge => proto::MetricType::GAUGE,
        MetricKind::Histogram => proto::MetricType::HISTOGRAM,
    });
    let metrics = f
        .series
        .into_iter()
        .map(|s| {
            let mut m = proto::Metric::default();
            let mut labels: Vec<proto::LabelPair> = f
                .label_names
                .iter()
                .zip(s.label_values)
                .map(|(n, v)| {
                    let mut l = proto::LabelPair::default();
                    l.set_name(n.clone());
                    l.set_value(v);
                    l
                })
                .collect();
            // Label pairs sorted by name, as the `prometheus` crate's own metrics emit them.
            labels.sort_by(|a, b| a.name().cmp(b.name()));
            m.set_label(labels);
            match s.value {
                SampleValue::Counter(v) => {
                    let mut c = proto::Counter::default();
                    c.set_value(v as f64);
                    m.set_counter(c);
                }
                SampleValue::Gauge(v) => {
                    let mut g = proto::Gauge::default();
                    g.set_value(v as f64);
                    m.set_gauge(g);
                }
                SampleValue::Histogram(h) => {
                    let mut ph = proto::Histogram::default();
                    ph.set_sample_count(h.count);
                    ph.set_sample_sum(h.sum);
                    // The text encoder writes the +Inf bucket itself from the sample count.
                    let buckets = h
                        .buckets
                        .iter()
                        .filter(|(b, _)| b.is_finite())
                        .map(|(b, c)| {
                            let mut pb = proto::Bucket::default();
                            pb.set_upper_bound(*b);
                            pb.set_cumulative_count(*c);
                            pb
                        })
                        .collect();
                    ph.set_bucket(buckets);
                    m.set_histogram(ph);
                }
            }
            m
        })
        .collect();
    mf.set_metric(metrics);
    mf
}
