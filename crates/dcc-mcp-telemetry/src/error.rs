//! The engine's one error type. Every message says what to change.

/// Why a metric could not be registered or a series could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelemetryError {
    /// The metric name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?}: use letters, digits, '_' and ':' and do not start with a digit")]
    InvalidMetricName {
        /// The rejected name.
        name: String,
    },
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`, starts with `__`, or is reserved (`le` on histograms).
    #[error("invalid label name {label:?} on metric {family:?}: use letters, digits and '_', do not start with '__' or a digit, and do not use 'le' on histograms")]
    InvalidLabelName {
        /// The metric family.
        family: String,
        /// The rejected label name.
        label: String,
    },
    /// The same label name appears twice in one family.
    #[error(
        "label name {label:?} appears twice on metric {family:?}: give each label a distinct name"
    )]
    DuplicateLabelName {
        /// The metric family.
        family: String,
        /// The repeated label name.
        label: String,
    },
    /// A family with this name is already registered in this registry.
    #[error("metric {name:?} is already registered: keep the handle from the first registration or pick another name")]
    DuplicateMetric {
        /// The name registered twice.
        name: String,
    },
    /// `with_label_values` got a different number of values than the family has label names.
    #[error("metric {family:?} has {expected} label names but {got} values were given: pass one value per label name, in order")]
    LabelCountMismatch {
        /// The metric family.
        family: String,
        /// Number of label names.
        expected: usize,
        /// Number of values passed.
        got: usize,
    },
    /// Histogram bucket bounds are not finite and strictly increasing.
    #[error("invalid buckets for histogram {family:?}: {reason}")]
    InvalidBuckets {
        /// The histogram family.
        family: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A labelled family was given a series cap of zero.
    #[error("metric {family:?} has a series cap of 0: allow at least one series")]
    InvalidSeriesCap {
        /// The metric family.
        family: String,
    },
    /// The registry has used up all of its cell storage: 2^20 (1,048,576) cells of 8 bytes. A
    /// counter series takes 1 cell (6 with exemplars), a histogram series `bounds + 3` (plus
    /// `4 × (bounds + 1)` with exemplars and the native block with native buckets), the family's
    /// overflow series included; so 1024-series families of 13-bound histograms fill it at 64
    /// families. Series past it are answered with the family's overflow series.
    #[error("the metrics registry has no cell storage left: cap the number of series per family")]
    CapacityExhausted,
}
