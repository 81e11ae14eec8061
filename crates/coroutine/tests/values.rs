//! Values in and out, suspension from nested calls, generators, names.

use corio_coroutine::stack::DefaultStack;
use corio_coroutine::{Coroutine, CoroutineResult, Yielder};

#[test]
fn values_travel_both_ways_over_a_million_resumes() {
    let mut co = Coroutine::new(|yielder: &Yielder<u64, u64>, first: u64| {
        let mut sum = first;
        let mut input = first;
        for _ in 0..1_000_000 {
            input = yielder.suspend(input.wrapping_mul(3));
            sum = sum.wrapping_add(input);
        }
        sum
    });
    let mut expected_sum = 1u64;
    let mut out = match co.resume(1) {
        CoroutineResult::Yield(v) => v,
        CoroutineResult::Return(_) => panic!("returned early"),
    };
    let mut last_in = 1u64;
    for i in 0..999_999u64 {
        assert_eq!(out, last_in.wrapping_mul(3));
        last_in = i ^ 0x5555;
        expected_sum = expected_sum.wrapping_add(last_in);
        out = co.resume(last_in).as_yield().expect("yield");
    }
    assert_eq!(out, last_in.wrapping_mul(3));
    expected_sum = expected_sum.wrapping_add(7);
    assert_eq!(co.resume(7), CoroutineResult::Return(expected_sum));
    assert!(co.done());
}

#[test]
fn large_values_and_owned_data_move_intact() {
    let mut co = Coroutine::new(|yielder: &Yielder<[u64; 64], String>, block: [u64; 64]| {
        let text: String = block.iter().map(|v| v.to_string()).collect();
        let next = yielder.suspend(text);
        next.iter().sum::<u64>()
    });
    let block: [u64; 64] = std::array::from_fn(|i| i as u64);
    let expected: String = block.iter().map(|v| v.to_string()).collect();
    assert_eq!(co.resume(block).as_yield(), Some(expected));
    assert_eq!(co.resume([2; 64]).as_return(), Some(128));
}

fn nested(yielder: &Yielder<u32, u32>, depth: u32) -> u32 {
    if depth == 0 {
        return yielder.suspend(0);
    }
    // Keep a live value in every frame to catch clobbered registers.
    let here = depth * 7;
    let below = nested(yielder, depth - 1);
    let again = yielder.suspend(depth);
    std::hint::black_box(here) / 7 + below + again - depth
}

#[test]
fn suspends_from_a_hundred_nested_calls() {
    let mut co = Coroutine::new(|yielder, _start: u32| nested(yielder, 100));
    assert_eq!(co.resume(0), CoroutineResult::Yield(0));
    for depth in 1..=100 {
        // Yield `depth` on the way back up, feeding `depth` back in.
        let inner = co.resume(depth - 1);
        assert_eq!(inner, CoroutineResult::Yield(depth));
    }
    // nested() at depth d returns d + below + again - d with again = d:
    // the sum of 0 + 1 + ... + 100.
    assert_eq!(co.resume(100), CoroutineResult::Return(5050));
}

#[test]
fn a_yield_only_coroutine_is_an_iterator() {
    let fib = Coroutine::new(|yielder, ()| {
        let (mut a, mut b) = (0u64, 1u64);
        for _ in 0..10 {
            yielder.suspend(a);
            (a, b) = (b, a + b);
        }
    });
    assert_eq!(fib.collect::<Vec<_>>(), [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
}

#[test]
fn coroutines_resume_each_other() {
    let mut outer = Coroutine::new(|yielder: &Yielder<(), u32>, ()| {
        let mut inner = Coroutine::new(|inner_yielder: &Yielder<(), u32>, ()| {
            inner_yielder.suspend(1);
            inner_yielder.suspend(2);
            3
        });
        while let CoroutineResult::Yield(v) = inner.resume(()) {
            yielder.suspend(v * 10);
        }
        0
    });
    assert_eq!(outer.resume(()), CoroutineResult::Yield(10));
    assert_eq!(outer.resume(()), CoroutineResult::Yield(20));
    assert_eq!(outer.resume(()), CoroutineResult::Return(0));
}

#[test]
fn states_and_names() {
    let mut co = Coroutine::new(|yielder: &Yielder<(), ()>, ()| yielder.suspend(()));
    assert!(!co.started() && !co.done());
    assert_eq!(co.name(), None);
    co.set_name("wörker-1");
    assert_eq!(co.name(), Some("wörker-1"));
    co.set_name(&"é".repeat(40)); // 80 bytes: cut at a char boundary
    assert_eq!(co.name().unwrap().len(), 64);
    let _ = co.resume(());
    assert!(co.started() && !co.done());
    let _ = co.resume(());
    assert!(co.done());
    assert!(format!("{co:?}").contains("done: true"));
}

#[test]
#[should_panic(expected = "finished")]
fn resuming_a_finished_coroutine_panics() {
    let mut co = Coroutine::<(), (), ()>::new(|_, ()| ());
    let _ = co.resume(());
    let _ = co.resume(());
}

#[test]
fn stacks_are_reused_through_into_stack() {
    let stack = DefaultStack::new(64 * 1024).unwrap();
    let mut co = Coroutine::with_stack(stack, |yielder: &Yielder<(), u8>, ()| yielder.suspend(1));
    assert_eq!(co.resume(()), CoroutineResult::Yield(1));
    let stack = co.into_stack(); // unwinds the suspended coroutine
    let mut again = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| 5);
    assert_eq!(again.resume(()), CoroutineResult::Return(5));
}

#[test]
#[should_panic(expected = "does not fit")]
fn a_closure_too_large_for_its_stack_is_refused() {
    let big = [0u8; 32 * 1024];
    let stack = DefaultStack::new(16 * 1024).unwrap();
    let _ = Coroutine::with_stack(stack, move |_: &Yielder<(), ()>, ()| {
        std::hint::black_box(&big);
    });
}
