//! `prometheus::core::Collector` for [`Registry`], so a private `prometheus::Registry` and
//! `TextEncoder` render the engine's snapshot (with the `prometheus` crate's label escaping).

use crate::registry::{OVERFLOW_HELP, OVERFLOW_METRIC_NAME};
use crate::snapshot::{FamilySnapshot, MetricKind, SampleValue};
use crate::sync::lock;
use crate::Registry;
use prometheus::core::{Collector, Desc};
use prometheus::proto;

/// The descriptors of one family: the family itself and, for a labelled family, its series of the
/// overflow counter as a descriptor with the constant label `family` (so the overflow counter of
/// two registries with different families gets different descriptor ids, and both registries can
/// be registered in one `prometheus::Registry`; a family name present in both is refused, as it
/// would be exported twice).
fn family_descs(f: &FamilySnapshot) -> Vec<Desc> {
    let mut descs = Vec::with_capacity(2);
    if f.name == OVERFLOW_METRIC_NAME {
        return descs;
    }
    if let Ok(d) = Desc::new(
        f.name.clone(),
        f.help.clone(),
        f.label_names.clone(),
        Default::default(),
    ) {
        descs.push(d);
    }
    if !f.label_names.is_empty() {
        let family = [("family".to_owned(), f.name.clone())]
            .into_iter()
            .collect();
        if let Ok(d) = Desc::new(
            OVERFLOW_METRIC_NAME.to_owned(),
            OVERFLOW_HELP.to_owned(),
            Vec::new(),
            family,
        ) {
            descs.push(d);
        }
    }
    descs
}

impl Registry {
    /// Appends the descriptors of families registered since the last call.
    fn describe_new_families(&self) {
        let mut described = lock(&self.inner.described);
        let families = self.families();
        for f in families.iter().skip(*described) {
            // Names and labels only: no merge needed.
            for d in family_descs(&f.snapshot(&crate::merge::Merged::default())) {
                self.inner.descs.push(d);
            }
        }
        *described = families.len();
    }
}

impl Collector for Registry {
    /// One descriptor per registered family and one per labelled family's overflow series (see
    /// `family_descs`). A `prometheus::Registry` reads them once, when the engine registry is
    /// registered: families registered later are exported but were not checked for clashes.
    fn desc(&self) -> Vec<&Desc> {
        self.describe_new_families();
        self.inner.descs.iter().collect()
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
