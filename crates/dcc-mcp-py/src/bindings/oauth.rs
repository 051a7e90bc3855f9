//! `McpHttpConfig.oauth` from Python: a plain `dict` both ways, so the keys match the Rust
//! `OAuthConfig` fields and the `dcc-mcp-server --oauth-*` flags one for one.
//!
//! Why a dict and not a class of its own: it is set once, read rarely, and a dict is what a DCC
//! script builds from its studio settings. Unknown keys are refused (a typo must not turn a check off).

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use dcc_mcp_http::{JwksSource, OAuthConfig};

use super::errors::invalid_value;
use crate::convert;

const KEYS: [&str; 7] = [
    "issuer",
    "jwks",
    "audience",
    "required_scopes",
    "resource",
    "leeway",
    "jwks_refresh_interval",
];

fn bad(why: String) -> PyErr {
    invalid_value(convert::InvalidValue(why))
}

/// `None`, or a dict with `issuer`, `jwks` (a file path or an `http://` URL) and `audience`, and
/// optionally `required_scopes` (list of str), `resource` (str), `leeway` and
/// `jwks_refresh_interval` (seconds).
pub(crate) fn extract_oauth(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<OAuthConfig>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let dict = value
        .cast::<PyDict>()
        .map_err(|_| bad("oauth must be None or a dict".to_owned()))?;
    for key in dict.keys() {
        let key: String = key.extract()?;
        if !KEYS.contains(&key.as_str()) {
            return Err(bad(format!(
                "oauth has an unknown key {key:?}; the keys are {}",
                KEYS.join(", ")
            )));
        }
    }
    let text = |key: &str| -> PyResult<Option<String>> {
        match dict.get_item(key)? {
            Some(v) if !v.is_none() => v
                .extract::<String>()
                .map(Some)
                .map_err(|_| bad(format!("oauth[{key:?}] must be a str"))),
            _ => Ok(None),
        }
    };
    let seconds = |key: &str| -> PyResult<Option<Duration>> {
        match dict.get_item(key)? {
            Some(v) if !v.is_none() => {
                let secs: f64 = v
                    .extract()
                    .map_err(|_| bad(format!("oauth[{key:?}] must be a number of seconds")))?;
                if !secs.is_finite() || secs < 0.0 {
                    return Err(bad(format!("oauth[{key:?}] must be >= 0 seconds")));
                }
                Ok(Some(Duration::from_secs_f64(secs)))
            }
            _ => Ok(None),
        }
    };
    let required = |key: &str| -> PyResult<String> {
        text(key)?.ok_or_else(|| bad(format!("oauth needs {key:?}")))
    };
    let mut config = OAuthConfig::new(
        required("issuer")?,
        required("audience")?,
        JwksSource::parse(&required("jwks")?),
    );
    if let Some(scopes) = dict.get_item("required_scopes")? {
        if !scopes.is_none() {
            if scopes.is_instance_of::<pyo3::types::PyString>() {
                return Err(bad(
                    "oauth[\"required_scopes\"] must be a list of str".to_owned()
                ));
            }
            config.required_scopes = scopes
                .extract()
                .map_err(|_| bad("oauth[\"required_scopes\"] must be a list of str".to_owned()))?;
        }
    }
    config.resource = text("resource")?;
    if let Some(leeway) = seconds("leeway")? {
        config.leeway = leeway;
    }
    if let Some(interval) = seconds("jwks_refresh_interval")? {
        config.jwks_refresh_interval = interval;
    }
    Ok(Some(config))
}

/// The dict `extract_oauth` reads, with every key filled in.
pub(crate) fn oauth_to_dict<'py>(
    py: Python<'py>,
    config: &OAuthConfig,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("issuer", &config.issuer)?;
    let jwks = match &config.jwks {
        JwksSource::File(path) => path.to_string_lossy().into_owned(),
        JwksSource::Url(url) => url.clone(),
    };
    dict.set_item("jwks", jwks)?;
    dict.set_item("audience", &config.audience)?;
    dict.set_item("required_scopes", &config.required_scopes)?;
    dict.set_item("resource", &config.resource)?;
    dict.set_item("leeway", config.leeway.as_secs_f64())?;
    dict.set_item(
        "jwks_refresh_interval",
        config.jwks_refresh_interval.as_secs_f64(),
    )?;
    Ok(dict)
}
