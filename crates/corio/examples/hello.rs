//! The smallest corio program: `#[corio::main]` runs `main` as the main coroutine.
//!
//! ```sh
//! cargo run -p corio --example hello
//! ```

use std::time::Duration;

use corio::sync::channel;

#[corio::main(workers = 2)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = channel::unbounded();
    for id in 0..3u64 {
        let tx = tx.clone();
        corio::spawn(move || {
            corio::time::sleep(Duration::from_millis(10 * id)); // parks only this coroutine
            tx.send(format!("hello from coroutine {id}")).unwrap();
        });
    }
    drop(tx);
    for line in rx {
        println!("{line}");
    }
    let answer: u32 = "42".parse()?;
    println!("and the answer is {answer}");
    Ok(())
}
