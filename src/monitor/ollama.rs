//! Ollama's model residency, sampled: `GET /api/ps` lists the models in memory (Ollama has no
//! Prometheus endpoint), each written as `ollama_model_*` rows labelled by model into
//! `resources.parquet`. A model present at one sample and absent at the one before was loaded
//! between them; the analysis reads loads, unloads and swaps from that.

use std::sync::Arc;

use aurax_schema::metrics;
use serde_json::Value;

use crate::sink::ResourceSample;

/// The largest `/api/ps` answer read: a few hundred bytes a model.
const MAX_PS_BYTES: usize = 1024 * 1024;

/// One loaded model as `/api/ps` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PsModel {
    pub name: String,
    pub size: Option<f64>,
    pub size_vram: Option<f64>,
    /// `expires_at`, Unix seconds.
    pub expires_at: Option<f64>,
    pub context_length: Option<f64>,
}

/// `GET {base}/api/ps`, read as Ollama's API documents it; an error says what came back.
pub async fn poll(client: &reqwest::Client, base: &str) -> Result<Vec<PsModel>, String> {
    let url = format!("{}/api/ps", base.trim_end_matches('/'));
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| crate::http::describe(&e))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {} (is it Ollama?)", response.status()));
    }
    let body = crate::http::body_up_to(response, MAX_PS_BYTES).await?;
    parse(&body)
}

/// Reads an `/api/ps` body: `{"models": [{"name", "size", "size_vram", "expires_at",
/// "context_length", ...}]}`. Anything else is an error, never a guess.
pub fn parse(body: &[u8]) -> Result<Vec<PsModel>, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON ({e}): is it Ollama?"))?;
    let models = json
        .get("models")
        .and_then(Value::as_array)
        .ok_or("no `models` list in the answer: is it Ollama's /api/ps?")?;
    models
        .iter()
        .map(|m| {
            let name = m
                .get("name")
                .or_else(|| m.get("model"))
                .and_then(Value::as_str)
                .ok_or("a model without a name in the answer")?;
            let number = |key: &str| m.get(key).and_then(Value::as_f64);
            let expires_at = m
                .get("expires_at")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_micros() as f64 / 1e6);
            Ok(PsModel {
                name: name.to_string(),
                size: number("size"),
                size_vram: number("size_vram"),
                expires_at,
                context_length: number("context_length"),
            })
        })
        .collect()
}

/// The sample's rows: the count of models in memory, then each model's gauges.
pub fn push(rows: &mut Vec<ResourceSample>, now: i64, source: &Arc<str>, models: &[PsModel]) {
    let mut push = |metric: &str, labels: String, value: f64| {
        rows.push(ResourceSample {
            time_us: now,
            source: source.clone(),
            metric: metric.to_string(),
            labels,
            value,
        })
    };
    push(
        metrics::OLLAMA_MODELS_LOADED,
        String::new(),
        models.len() as f64,
    );
    for m in models {
        // A label value escaped as Prometheus does, so `labels` reads back the same way.
        let label = format!(
            "model=\"{}\"",
            m.name.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let gauges = [
            (metrics::OLLAMA_MODEL_SIZE, m.size.or(Some(0.0))),
            (metrics::OLLAMA_MODEL_VRAM, m.size_vram),
            (metrics::OLLAMA_MODEL_EXPIRES_AT, m.expires_at),
            (metrics::OLLAMA_MODEL_CONTEXT, m.context_length),
        ];
        for (metric, value) in gauges {
            if let Some(v) = value {
                push(metric, label.clone(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example answer of Ollama's API documentation (docs/api.md, "List Running Models").
    const DOCUMENTED: &str = r#"{
  "models": [
    {
      "name": "mistral:latest",
      "model": "mistral:latest",
      "size": 5137025024,
      "digest": "2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8",
      "details": {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "7.2B",
        "quantization_level": "Q4_0"
      },
      "expires_at": "2024-06-04T14:38:31.83753-07:00",
      "size_vram": 5137025024,
      "context_length": 4096
    }
  ]
}"#;

    #[test]
    fn the_documented_answer_reads_as_one_model_with_its_gauges() {
        let models = parse(DOCUMENTED.as_bytes()).expect("documented shape");
        assert_eq!(models.len(), 1);
        let m = &models[0];
        assert_eq!(m.name, "mistral:latest");
        assert_eq!(m.size, Some(5_137_025_024.0));
        assert_eq!(m.size_vram, Some(5_137_025_024.0));
        assert_eq!(m.context_length, Some(4096.0));
        // 2024-06-04T21:38:31.83753Z
        assert_eq!(m.expires_at, Some(1_717_537_111.837_53));
        let mut rows = Vec::new();
        push(&mut rows, 7, &Arc::from("ollama:x"), &models);
        let names: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.metric.as_str(), r.labels.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("ollama_models_loaded", ""),
                ("ollama_model_size_bytes", "model=\"mistral:latest\""),
                ("ollama_model_vram_bytes", "model=\"mistral:latest\""),
                (
                    "ollama_model_expires_at_seconds",
                    "model=\"mistral:latest\""
                ),
                ("ollama_model_context_length", "model=\"mistral:latest\""),
            ]
        );
    }

    #[test]
    fn none_loaded_is_a_sample_and_garbage_is_an_error() {
        assert_eq!(parse(br#"{"models":[]}"#), Ok(vec![]));
        for bad in [
            &b"<html>"[..],
            b"{}",
            br#"{"models":{}}"#,
            br#"{"models":[{}]}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
