//! A running run, live: an observer of the engine's events turns each step
//! that starts or ends into a small redacted JSON message; the page of the
//! run gets them as server-sent events (those so far first).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::broadcast;

use crate::engine::{Event, Observer};
use crate::secret::Redactor;

/// At most this many runs are followed at once; the oldest finished go.
const FOLLOWED: usize = 128;
/// At most this many messages are kept per run (two per step: a chain of
/// 2,000 steps; a page that connects later misses the rest of a longer
/// one's past, not its future).
const KEPT_MESSAGES: usize = 4_000;

/// One message to a page: its event name and its JSON.
type Message = (String, String);

struct Followed {
    messages: Vec<Message>,
    tx: broadcast::Sender<Message>,
    done: bool,
}

/// The runs being followed, by id.
#[derive(Default)]
pub struct Live {
    runs: Mutex<HashMap<String, Followed>>,
}

impl Live {
    /// Starts following run `id`.
    pub fn start(&self, id: &str) {
        let Ok(mut runs) = self.runs.lock() else {
            return;
        };
        if runs.len() >= FOLLOWED {
            let done: Vec<String> = runs
                .iter()
                .filter(|(_, f)| f.done)
                .map(|(k, _)| k.clone())
                .collect();
            for k in done {
                runs.remove(&k);
            }
        }
        if runs.len() < FOLLOWED {
            let (tx, _) = broadcast::channel(256);
            runs.insert(
                id.to_string(),
                Followed {
                    messages: Vec::new(),
                    tx,
                    done: false,
                },
            );
        }
    }

    fn say(&self, id: &str, kind: &str, data: String) {
        let Ok(mut runs) = self.runs.lock() else {
            return;
        };
        if let Some(f) = runs.get_mut(id) {
            if f.messages.len() < KEPT_MESSAGES {
                f.messages.push((kind.to_string(), data.clone()));
            }
            if kind == "done" {
                f.done = true;
            }
            let _ = f.tx.send((kind.to_string(), data));
        }
    }

    /// What was said so far, and what will be.
    fn follow(&self, id: &str) -> Option<(Vec<Message>, bool, broadcast::Receiver<Message>)> {
        let runs = self.runs.lock().ok()?;
        let f = runs.get(id)?;
        Some((f.messages.clone(), f.done, f.tx.subscribe()))
    }

    /// The observer that tells the page of run `id`.
    pub fn observer(self: &Arc<Self>, id: &str, redactor: Redactor) -> Box<dyn Observer> {
        Box::new(Teller {
            live: Arc::clone(self),
            id: id.to_string(),
            redactor,
        })
    }
}

struct Teller {
    live: Arc<Live>,
    id: String,
    redactor: Redactor,
}

impl Observer for Teller {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::StepStarted { index, .. } => {
                let msg = json!({"index": index, "status": "running"});
                self.live.say(&self.id, "step", msg.to_string());
            }
            Event::StepFinished { index, outcome, .. } => {
                let status = outcome.status.as_str();
                let error = outcome
                    .error
                    .as_ref()
                    .map(|e| self.redactor.redact(&e.summary()));
                let msg = json!({
                    "index": index,
                    "status": status,
                    "code": outcome.response.as_ref().map(|r| r.status),
                    "elapsed_ms": outcome.elapsed.as_millis() as u64,
                    "error": error,
                });
                self.live.say(&self.id, "step", msg.to_string());
            }
            Event::RunFinished { report } => {
                let msg = json!({"status": report.status.as_str()});
                self.live.say(&self.id, "done", msg.to_string());
            }
            _ => {}
        }
    }
}

/// `GET /ui/runs/<id>/events`: the run's messages so far, then the rest as
/// they come, until it is done.
pub async fn events(State(shared): State<Arc<super::Shared>>, Path(id): Path<String>) -> Response {
    if !super::plausible_id(&id) {
        return super::super::api::error_response(axum::http::StatusCode::NOT_FOUND, "no such run");
    }
    let Some((past, done, rx)) = shared.ui.live.follow(&id) else {
        return super::super::api::error_response(
            axum::http::StatusCode::NOT_FOUND,
            "this run is not followed (it finished long ago, or the server restarted)",
        );
    };
    let first = futures_util::stream::iter(
        past.into_iter()
            .map(|(k, d)| Ok::<_, Infallible>(SseEvent::default().event(k).data(d))),
    );
    let rest = futures_util::stream::unfold((rx, done), |(mut rx, done)| async move {
        if done {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok((k, d)) => {
                    let finished = k == "done";
                    return Some((
                        Ok::<_, Infallible>(SseEvent::default().event(k).data(d)),
                        (rx, finished),
                    ));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    use futures_util::StreamExt as _;
    Sse::new(first.chain(rest))
        .keep_alive(KeepAlive::default())
        .into_response()
}
