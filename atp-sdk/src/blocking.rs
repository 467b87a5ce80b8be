//! Where plain `fn` tools run: threads of the SDK's own, fed by one queue.
//!
//! A call hands its function to [`run`] and awaits the answer; the
//! connection's task never runs tool code, so a slow or stuck `fn` can't
//! stall it or the other calls. What this saves over
//! `tokio::task::spawn_blocking`, which wakes an idle thread for every
//! task, is the wake-ups: a thread is woken only when no thread is already
//! awake and looking at the queue, so under load the one that just
//! answered a call takes the next without a sleep and a wake between them.
//!
//! Whoever takes a job while others still wait makes sure someone else is
//! coming for them (an awake thread, one being woken, or a new one), so
//! a job never waits behind one that turned out slow: the rule tokio's own
//! scheduler follows for its searching workers. Threads are made as
//! needed, up to [`MAX_THREADS`], and leave after [`KEEP_ALIVE`] without
//! work. They are not the runtime's: a runtime shut down, or a process
//! exiting, does not wait for a function that never returns.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// One function to run, answering through what it captured.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// At most this many threads run plain `fn` tools at once (tokio's
/// blocking pool allows as many); further calls wait in the queue.
pub(crate) const MAX_THREADS: usize = 512;

/// How long a thread without work stays.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The process's workers.
fn workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(Workers::default)
}

/// Runs `f` on a worker thread, inside the current tokio runtime's context
/// (so the function may use `Handle::current()`) and the current span;
/// resolves to what it returned, or to the panic it raised.
pub(crate) async fn run<T, F>(f: F) -> std::thread::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Handle::try_current().ok();
    let span = tracing::Span::current();
    workers().submit(Box::new(move || {
        let _runtime = runtime.as_ref().map(tokio::runtime::Handle::enter);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| span.in_scope(f)));
        // The call may have given up waiting (its limit): nobody to tell.
        let _ = tx.send(result);
    }));
    match rx.await {
        Ok(result) => result,
        // The job was dropped unrun: only if a worker thread could not be
        // made (the system refused one).
        Err(_) => Err(Box::new("no thread could be started to run the tool")),
    }
}

#[derive(Default)]
struct Workers {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads there are.
    threads: usize,
    /// Threads asleep on the condition variable.
    asleep: usize,
    /// Sleeping threads told to wake that have not woken yet.
    waking: usize,
    /// Threads awake and not running a job: each takes the next one.
    looking: usize,
}

impl State {
    /// Whether someone will take the next job without being woken.
    fn someone_coming(&self) -> bool {
        self.looking + self.waking > 0
    }
}

impl Workers {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A job's panic is caught before it could poison the lock; the
        // state is plain counters either way.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn submit(&'static self, job: Job) {
        let mut state = self.lock();
        state.queue.push_back(job);
        if !state.someone_coming() {
            self.call_one(&mut state);
        }
    }

    /// Wakes a sleeping thread, or starts one while under the cap.
    fn call_one(&'static self, state: &mut State) {
        if state.asleep > state.waking {
            state.waking += 1;
            self.wake.notify_one();
        } else if state.threads < MAX_THREADS {
            state.threads += 1;
            state.looking += 1;
            let started = std::thread::Builder::new()
                .name("atp-fn".to_owned())
                .spawn(move || self.work());
            if started.is_err() {
                state.threads -= 1;
                state.looking -= 1;
                tracing::error!("could not start a thread for plain fn tools");
                if state.threads == 0 {
                    // Nobody will ever take them: their calls fail.
                    state.queue.clear();
                }
            }
        }
    }

    /// A worker thread: takes jobs while there are any, sleeps between.
    fn work(&'static self) {
        let mut state = self.lock();
        loop {
            let Some(job) = state.queue.pop_front() else {
                state.looking -= 1;
                state.asleep += 1;
                let (next, timeout) = self
                    .wake
                    .wait_timeout(state, KEEP_ALIVE)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                state = next;
                state.asleep -= 1;
                if state.waking > 0 {
                    state.waking -= 1;
                } else if timeout.timed_out() && state.queue.is_empty() {
                    state.threads -= 1;
                    return;
                }
                state.looking += 1;
                continue;
            };
            state.looking -= 1;
            if !state.queue.is_empty() && !state.someone_coming() {
                // This job may be slow: the others must not wait for it.
                self.call_one(&mut state);
            }
            drop(state);
            job();
            state = self.lock();
            state.looking += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_function_runs_and_its_panic_comes_back() {
        assert_eq!(run(|| 2 + 2).await.unwrap(), 4);
        let err = run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert_eq!(crate::error::panic_message(err), "boom");
        // The thread that caught it still serves.
        assert_eq!(run(|| "again").await.unwrap(), "again");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_function_sees_the_runtime_it_was_called_from() {
        let flavor = run(|| tokio::runtime::Handle::current().runtime_flavor())
            .await
            .unwrap();
        assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);
    }

    /// Jobs queued together behind one that blocks are taken by other
    /// threads: each of 8 blocked functions is running before any returns.
    #[tokio::test]
    async fn no_job_waits_behind_a_blocked_one() {
        let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let started = started.clone();
                let gate = gate.clone();
                tokio::spawn(run(move || {
                    started.send(()).unwrap();
                    // Blocks until released, one at a time.
                    let _ = gate.lock().unwrap().recv();
                }))
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(10), async {
            for _ in 0..8 {
                starts.recv().await.unwrap();
            }
        })
        .await
        .expect("all 8 blocked functions started, each on a thread of its own");
        for _ in 0..8 {
            release.send(()).unwrap();
        }
        for call in calls {
            call.await.unwrap().unwrap();
        }
    }

    /// A burst of quick calls is served by far fewer threads than calls.
    #[tokio::test(flavor = "current_thread")]
    async fn quick_calls_share_threads() {
        let calls: Vec<_> = (0..256).map(|i| tokio::spawn(run(move || i * 2))).collect();
        let mut sum = 0;
        for call in calls {
            sum += call.await.unwrap().unwrap();
        }
        assert_eq!(sum, 255 * 256);
        let threads = workers().lock().threads;
        assert!(threads < 64, "{threads} threads for 256 quick calls");
    }
}
