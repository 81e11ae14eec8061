//! Unix-domain stream sockets: [`UnixListener`] and [`UnixStream`].

mod listener;
mod stream;

pub use listener::{Incoming, UnixListener};
pub use stream::UnixStream;
