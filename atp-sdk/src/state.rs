//! [`State<T>`]: values a program shares with its tools (an HTTP client, a
//! pool, configuration), given once to the builder.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::error::Error;

/// A value shared with the tools, taken as a parameter of an `#[atp_tool]`
/// function (it is not a tool parameter the agent sees).
///
/// Give the value once with
/// [`ToolKitClientBuilder::state`](crate::ToolKitClientBuilder::state) (one
/// value per type; several types may be given). It is held in an [`Arc`]:
/// every call sees the same value, so mutate through a `Mutex`, an atomic,
/// or whatever interior mutability fits. A tool whose state was not given
/// makes [`build`](crate::ToolKitClientBuilder::build) fail, naming the
/// tool and the type, before anything connects.
///
/// ```standalone_crate
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use atp_sdk::{atp_tool, State};
///
/// #[derive(Default)]
/// struct Counter(AtomicU64);
///
/// /// Counts the calls so far.
/// #[atp_tool]
/// fn count(counter: State<Counter>) -> u64 {
///     counter.0.fetch_add(1, Ordering::Relaxed) + 1
/// }
///
/// fn main() {
///     let client = atp_sdk::ToolKitClient::builder("key", "counter")
///         .tools(["count"])
///         .state(Counter::default())
///         .build()
///         .unwrap();
///     # let _ = client;
///     // Still an ordinary function:
///     let counter = State::new(Counter::default());
///     assert_eq!(count(counter.clone()), 1);
///     assert_eq!(count(counter), 2);
/// }
/// ```
pub struct State<T: ?Sized>(Arc<T>);

impl<T> State<T> {
    /// Wraps a value (handy to call a tool function in a test).
    pub fn new(value: T) -> Self {
        Self(Arc::new(value))
    }
}

impl<T: ?Sized> State<T> {
    /// The shared [`Arc`].
    pub fn arc(&self) -> &Arc<T> {
        &self.0
    }
}

impl<T: ?Sized> From<Arc<T>> for State<T> {
    fn from(value: Arc<T>) -> Self {
        Self(value)
    }
}

impl<T: ?Sized> Clone for State<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: ?Sized> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&self.0).finish()
    }
}

/// The values given to the builder, by type.
#[derive(Default, Clone)]
pub(crate) struct States(HashMap<TypeId, (&'static str, Arc<dyn Any + Send + Sync>)>);

impl States {
    /// Adds a value; a second value of one type is an error.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Result<(), Error> {
        let name = std::any::type_name::<T>();
        match self.0.insert(TypeId::of::<T>(), (name, Arc::new(value))) {
            None => Ok(()),
            Some(_) => Err(Error::Config(format!(
                "State<{name}> was given twice: give one value per type"
            ))),
        }
    }

    pub(crate) fn contains(&self, type_id: TypeId) -> bool {
        self.0.contains_key(&type_id)
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        let (_, value) = self.0.get(&TypeId::of::<T>())?;
        value.clone().downcast::<T>().ok().map(State)
    }
}

impl fmt::Debug for States {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.values().map(|(name, _)| name))
            .finish()
    }
}
