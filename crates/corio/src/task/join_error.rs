//! `JoinError`: why a task produced no output (it was cancelled, or it panicked), shaped like
//! tokio's so `?` into `anyhow`/`Box<dyn Error>` works.

use std::any::Any;
use std::error::Error;
use std::fmt;

use super::{Cancelled, TaskId};

/// A task failed to produce its output: it was cancelled ([`JoinHandle::cancel`], or its
/// runtime shut down), or it panicked. Returned by
/// [`JoinHandle::join`](crate::JoinHandle::join) and the `JoinHandle` future.
///
/// ```
/// corio::run(|| {
///     let err = corio::spawn(|| panic!("boom")).join().unwrap_err();
///     assert!(err.is_panic());
///     assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// });
/// ```
///
/// [`JoinHandle::cancel`]: crate::JoinHandle::cancel
pub struct JoinError {
    id: TaskId,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic {
        payload: SyncPayload,
        /// The payload's text, if it is a `&str` or `String` (for `Display`/`Debug`).
        message: Option<String>,
    },
}

/// A panic payload that is `Sync` because nothing ever reads it through a shared reference:
/// it is only moved out ([`JoinError::into_panic`]).
struct SyncPayload(Box<dyn Any + Send + 'static>);

// SAFETY: no `&SyncPayload` method reaches the payload; it is only taken by value, so sharing
// a `&SyncPayload` between threads shares nothing (the same argument as tokio's SyncWrapper).
unsafe impl Sync for SyncPayload {}

impl JoinError {
    /// The error for a task that ended with `payload` (a [`Cancelled`] marker or a panic).
    pub(crate) fn new(id: TaskId, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        if payload.is::<Cancelled>() {
            return JoinError {
                id,
                repr: Repr::Cancelled,
            };
        }
        let message = payload
            .downcast_ref::<&'static str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        JoinError {
            id,
            repr: Repr::Panic {
                payload: SyncPayload(payload),
                message,
            },
        }
    }

    /// The original payload: the panic's, or a [`Cancelled`] marker (what
    /// [`Runtime::block_on`](crate::Runtime::block_on) resumes with).
    pub(crate) fn into_payload(self) -> Box<dyn Any + Send + 'static> {
        match self.repr {
            Repr::Cancelled => Box::new(Cancelled),
            Repr::Panic { payload, .. } => payload.0,
        }
    }

    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// Whether the task panicked (a coroutine that could not be created counts as one, with
    /// a message naming the limit it hit).
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic { .. })
    }

    /// The panic payload, e.g. to go on with [`std::panic::resume_unwind`].
    ///
    /// # Panics
    /// If the task was cancelled rather than panicked (see [`try_into_panic`](Self::try_into_panic)).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError` reason is not a panic")
    }

    /// The panic payload, or the error itself if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic { payload, .. } => Ok(payload.0),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> TaskId {
        self.id
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic {
                message: Some(m), ..
            } => write!(f, "task {} panicked with message {m:?}", self.id),
            Repr::Panic { message: None, .. } => write!(f, "task {} panicked", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({:?})", self.id),
            Repr::Panic {
                message: Some(m), ..
            } => write!(f, "JoinError::Panic({:?}, {m:?}, ...)", self.id),
            Repr::Panic { message: None, .. } => {
                write!(f, "JoinError::Panic({:?}, ...)", self.id)
            }
        }
    }
}

impl Error for JoinError {}

impl From<JoinError> for std::io::Error {
    /// An `io::Error` of kind `Other` carrying the `JoinError`, so `?` works in functions
    /// returning `io::Result`.
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_error<E: Error + Send + Sync + 'static>() {}

    #[test]
    fn is_an_error_that_crosses_threads() {
        assert_error::<JoinError>();
    }

    #[test]
    fn cancelled() {
        let e = JoinError::new(TaskId(7), Box::new(Cancelled));
        assert!(e.is_cancelled() && !e.is_panic());
        assert_eq!(e.id(), TaskId(7));
        assert_eq!(e.to_string(), "task 7 was cancelled");
        assert_eq!(format!("{e:?}"), "JoinError::Cancelled(TaskId(7))");
        let e = e.try_into_panic().unwrap_err();
        assert!(e.into_payload().is::<Cancelled>());
    }

    #[test]
    fn panics_with_a_message_or_without() {
        let e = JoinError::new(TaskId(1), Box::new("boom"));
        assert!(e.is_panic() && !e.is_cancelled());
        assert_eq!(e.to_string(), "task 1 panicked with message \"boom\"");
        assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "boom");
        let e = JoinError::new(TaskId(2), Box::new(String::from("owned")));
        assert_eq!(
            format!("{e:?}"),
            "JoinError::Panic(TaskId(2), \"owned\", ...)"
        );
        let e = JoinError::new(TaskId(3), Box::new(42u8));
        assert_eq!(e.to_string(), "task 3 panicked");
        assert_eq!(*e.into_panic().downcast::<u8>().unwrap(), 42);
    }

    #[test]
    #[should_panic(expected = "not a panic")]
    fn into_panic_of_a_cancellation_panics() {
        JoinError::new(TaskId(1), Box::new(Cancelled)).into_panic();
    }
}
