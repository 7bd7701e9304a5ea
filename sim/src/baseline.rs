//! The baseline the tracker is measured against: a collection modelled on `WDFCOLLECTION`, a
//! doubly linked list whose `GetItem(i)` walks from the head. Finding a request to cancel means
//! walking the list, so a lookup is O(n).
//!
//! The common driver pattern, `for i in 0..count { GetItem(i) }`, is O(n²) per lookup; this model
//! walks the list once instead, so the ratio measured against it is a conservative one.

use std::collections::LinkedList;

/// A `WDFCOLLECTION` of `(request ID, handle)` pairs.
#[derive(Debug, Default)]
pub struct CollectionModel<H> {
    #[expect(
        clippy::linkedlist,
        reason = "WDFCOLLECTION is a linked list; that is what is modelled"
    )]
    items: LinkedList<(u64, H)>,
}

impl<H: Copy> CollectionModel<H> {
    /// An empty collection (`WdfCollectionCreate`).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            items: LinkedList::new(),
        }
    }

    /// `WdfCollectionAdd`: appends at the tail.
    pub fn add(&mut self, id: u64, handle: H) {
        self.items.push_back((id, handle));
    }

    /// `WdfCollectionGetCount`.
    #[must_use]
    pub fn count(&self) -> usize {
        self.items.len()
    }

    /// `WdfCollectionGetItem(i)`: walks `i` links from the head.
    #[must_use]
    pub fn get_item(&self, index: usize) -> Option<H> {
        self.items.iter().nth(index).map(|&(_, handle)| handle)
    }

    /// The search a driver does before cancelling: walk until the ID matches.
    #[must_use]
    pub fn find(&self, id: u64) -> Option<H> {
        self.items
            .iter()
            .find(|&&(item, _)| item == id)
            .map(|&(_, handle)| handle)
    }

    /// `WdfCollectionRemove`: walks to the item, then unlinks it.
    pub fn remove(&mut self, id: u64) -> Option<H> {
        let position = self.items.iter().position(|&(item, _)| item == id)?;
        let mut tail = self.items.split_off(position);
        let removed = tail.pop_front().map(|(_, handle)| handle);
        self.items.append(&mut tail);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::CollectionModel;

    #[test]
    fn behaves_like_a_collection() {
        let mut c = CollectionModel::new();
        for id in 0..5u64 {
            c.add(id, id * 10);
        }
        assert_eq!(c.count(), 5);
        assert_eq!(c.get_item(3), Some(30));
        assert_eq!(c.find(4), Some(40));
        assert_eq!(c.remove(2), Some(20));
        assert_eq!(c.find(2), None);
        assert_eq!(c.get_item(2), Some(30));
        assert_eq!(c.remove(9), None);
        assert_eq!(c.count(), 4);
    }
}
