//! A generator: a coroutine that only yields is an `Iterator`.
//!
//! Run with `cargo run -p corio-coroutine --example generator`.

use corio_coroutine::{Coroutine, Yielder};

/// Walks a tree depth-first, yielding from inside the recursion: the
/// stackful version needs no explicit stack of iterators.
enum Tree {
    Leaf(u32),
    Node(Vec<Tree>),
}

fn walk(tree: &Tree, yielder: &Yielder<(), u32>) {
    match tree {
        Tree::Leaf(value) => yielder.suspend(*value),
        Tree::Node(children) => children.iter().for_each(|child| walk(child, yielder)),
    }
}

fn main() {
    let tree = Tree::Node(vec![
        Tree::Leaf(1),
        Tree::Node(vec![Tree::Leaf(2), Tree::Node(vec![Tree::Leaf(3)])]),
        Tree::Leaf(4),
    ]);
    let leaves = Coroutine::new(move |yielder, ()| walk(&tree, yielder));
    let collected: Vec<u32> = leaves.collect();
    println!("leaves in order: {collected:?}");
    assert_eq!(collected, [1, 2, 3, 4]);
}
