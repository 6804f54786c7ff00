//! A pod's log as the console holds it while the Logs view is open: the
//! request (container, follow, previous, tail), the lines received so far
//! (bounded) and how the stream is doing. Pure state; the live layer
//! streams (`live::logs`) and the App feeds chunks in by request id, so a
//! chunk of a stream that was replaced (another container, previous on)
//! is dropped rather than mixed in.

use std::collections::VecDeque;

/// Lines kept per log view; older ones go first.
pub const MAX_LINES: usize = 20_000;

/// The tail lengths `t` cycles through (`None`: the whole log).
pub const TAILS: [Option<i64>; 4] = [Some(100), Some(1000), Some(10_000), None];

/// Which log a Logs view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// One `pods/log` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRequest {
    /// Chunks carry it back; only the current request's are kept.
    pub id: u64,
    pub target: LogTarget,
    pub follow: bool,
    /// The previous (crashed) instance of the container.
    pub previous: bool,
    pub tail: Option<i64>,
}

/// What the stream reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogChunk {
    Lines {
        id: u64,
        lines: Vec<String>,
    },
    /// The stream ended: the log is complete (not following), or the pod went.
    Ended {
        id: u64,
    },
    /// The API server refused or the stream broke, in its words.
    Failed {
        id: u64,
        error: String,
    },
}

impl LogChunk {
    pub fn id(&self) -> u64 {
        match self {
            LogChunk::Lines { id, .. } | LogChunk::Ended { id } | LogChunk::Failed { id, .. } => {
                *id
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogState {
    Connecting,
    Streaming,
    Ended,
    Failed(String),
}

/// The open log.
#[derive(Debug, Clone)]
pub struct LogPane {
    pub request: LogRequest,
    /// Containers of the pod, for `c`.
    pub containers: Vec<String>,
    pub lines: VecDeque<String>,
    pub state: LogState,
    pub wrap: bool,
    /// Lines dropped from the front to stay within [`MAX_LINES`].
    pub dropped: usize,
}

impl LogPane {
    pub fn new(request: LogRequest, containers: Vec<String>) -> LogPane {
        LogPane {
            request,
            containers,
            lines: VecDeque::new(),
            state: LogState::Connecting,
            wrap: false,
            dropped: 0,
        }
    }

    /// Takes a chunk of the current request; returns whether anything changed.
    pub fn receive(&mut self, chunk: LogChunk) -> bool {
        if chunk.id() != self.request.id {
            return false;
        }
        match chunk {
            LogChunk::Lines { lines, .. } => {
                self.state = LogState::Streaming;
                for l in lines {
                    if self.lines.len() >= MAX_LINES {
                        self.lines.pop_front();
                        self.dropped += 1;
                    }
                    self.lines.push_back(l);
                }
            }
            LogChunk::Ended { .. } => self.state = LogState::Ended,
            LogChunk::Failed { error, .. } => self.state = LogState::Failed(error),
        }
        true
    }

    /// The same log asked again under `id` (after a change of options).
    pub fn restart(&mut self, id: u64) -> LogRequest {
        self.request.id = id;
        self.lines.clear();
        self.dropped = 0;
        self.state = LogState::Connecting;
        self.request.clone()
    }

    /// The next longer tail of [`TAILS`] (all lines, then back to the
    /// shortest); a length from the config file steps on from where it is.
    pub fn next_tail(&self) -> Option<i64> {
        match self.request.tail {
            None => TAILS[0],
            Some(now) => TAILS
                .iter()
                .copied()
                .find(|t| t.is_none_or(|n| n > now))
                .flatten(),
        }
    }

    /// The container after the current one.
    pub fn next_container(&self) -> Option<String> {
        let i = self
            .containers
            .iter()
            .position(|c| *c == self.request.target.container)?;
        self.containers
            .get((i + 1) % self.containers.len())
            .filter(|c| **c != self.request.target.container)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane() -> LogPane {
        LogPane::new(
            LogRequest {
                id: 1,
                target: LogTarget {
                    namespace: "ns".into(),
                    pod: "p".into(),
                    container: "a".into(),
                },
                follow: true,
                previous: false,
                tail: Some(100),
            },
            vec!["a".into(), "b".into()],
        )
    }

    #[test]
    fn chunks_of_a_replaced_stream_are_dropped() {
        let mut p = pane();
        assert!(p.receive(LogChunk::Lines {
            id: 1,
            lines: vec!["one".into()]
        }));
        p.restart(2);
        assert!(!p.receive(LogChunk::Lines {
            id: 1,
            lines: vec!["stale".into()]
        }));
        assert!(p.lines.is_empty());
        assert!(p.receive(LogChunk::Failed {
            id: 2,
            error: "boom".into()
        }));
        assert_eq!(p.state, LogState::Failed("boom".into()));
    }

    #[test]
    fn the_buffer_is_bounded_and_counts_what_it_dropped() {
        let mut p = pane();
        let lines = (0..MAX_LINES + 5).map(|i| i.to_string()).collect();
        p.receive(LogChunk::Lines { id: 1, lines });
        assert_eq!(p.lines.len(), MAX_LINES);
        assert_eq!(p.dropped, 5);
        assert_eq!(p.lines.front().map(String::as_str), Some("5"));
    }

    #[test]
    fn tail_and_container_cycle() {
        let mut p = pane();
        assert_eq!(p.next_tail(), Some(1000));
        p.request.tail = None;
        assert_eq!(p.next_tail(), Some(100));
        assert_eq!(p.next_container().as_deref(), Some("b"));
        p.containers = vec!["a".into()];
        assert_eq!(p.next_container(), None);
    }
}
