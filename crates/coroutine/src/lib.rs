//! corio-coroutine (work in progress).
