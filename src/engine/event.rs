//! What the engine tells the world. The engine never prints: it emits events,
//! and observers (progress bar, plain log, JSON report, …) render them.

use std::time::{Duration, SystemTime};

use super::outcome::{RunReport, StepOutcome};
use crate::plan::{ValidChain, ValidStep};
use crate::transport::{HttpRequest, HttpResponse, TransportError};

/// Something that happened during a run.
#[derive(Debug)]
pub enum Event<'a> {
    RunStarted {
        chain: &'a ValidChain,
        dry_run: bool,
    },
    /// A step's request was rendered and is about to be sent (first attempt).
    StepStarted {
        index: usize,
        step: &'a ValidStep,
        request: &'a HttpRequest,
    },
    /// An attempt failed and will be retried after `delay`.
    Retrying {
        index: usize,
        step: &'a ValidStep,
        /// The attempt that just failed (1-based).
        attempt: u32,
        reason: String,
        delay: Duration,
    },
    /// `poll:`: the condition did not hold yet; the request goes again
    /// after `delay`.
    Polling {
        index: usize,
        step: &'a ValidStep,
        /// Requests so far (1-based).
        count: u32,
        delay: Duration,
    },
    /// One attempt of a request is over: it got a response, or failed to.
    /// Every attempt has one (retries, `for_each` items, pages), so outputs
    /// that list every exchange (`--har`) or count them (`--metrics`) need
    /// nothing else. The request is as sent, credentials included: redact.
    Exchange {
        index: usize,
        step: &'a ValidStep,
        /// The `for_each` item's position in the list, if any.
        item: Option<usize>,
        /// The attempt (1-based) for this request.
        attempt: u32,
        request: &'a HttpRequest,
        response: Result<&'a HttpResponse, &'a TransportError>,
        /// When the attempt was sent.
        started: SystemTime,
        /// From sending to the whole response (or the error).
        elapsed: Duration,
    },
    /// A request waits for its connector's rate limit before it is sent.
    RateLimited {
        index: usize,
        step: &'a ValidStep,
        /// The connector whose limit it is.
        connector: &'a str,
        wait: Duration,
    },
    /// A `for_each` step starts its items.
    ItemsStarted {
        index: usize,
        step: &'a ValidStep,
        total: usize,
    },
    /// One item of a `for_each` step is done.
    ItemFinished {
        index: usize,
        step: &'a ValidStep,
        /// The item's position in the list.
        item: usize,
        outcome: &'a StepOutcome,
    },
    StepFinished {
        index: usize,
        step: &'a ValidStep,
        outcome: &'a StepOutcome,
    },
    RunFinished {
        report: &'a RunReport,
    },
}

/// Receives the engine's events. Implementations must not fail the run.
pub trait Observer {
    fn on_event(&mut self, event: &Event<'_>);
}

/// Hands events to an observer from the engine's concurrent parts (the items
/// of a `for_each` run in one task, so a `RefCell` is enough).
pub struct Emitter<'a>(std::cell::RefCell<&'a mut dyn Observer>);

impl<'a> Emitter<'a> {
    pub fn new(observer: &'a mut dyn Observer) -> Self {
        Emitter(std::cell::RefCell::new(observer))
    }

    pub fn emit(&self, event: &Event<'_>) {
        // Observers never call back into the engine, so this never nests.
        if let Ok(mut o) = self.0.try_borrow_mut() {
            o.on_event(event);
        }
    }
}

/// Fans events out to several observers, in order.
#[derive(Default)]
pub struct Observers(pub Vec<Box<dyn Observer>>);

impl Observer for Observers {
    fn on_event(&mut self, event: &Event<'_>) {
        for o in &mut self.0 {
            o.on_event(event);
        }
    }
}
