//! A list of fixed capacity for the audio thread, which must not allocate: an item pushed past
//! the capacity is dropped.

#[derive(Debug, Clone)]
pub struct FixedList<T, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> Default for FixedList<T, N> {
    fn default() -> Self {
        Self {
            items: [T::default(); N],
            len: 0,
        }
    }
}

impl<T: Copy, const N: usize> FixedList<T, N> {
    /// Appends `item`, or drops it when the list is full.
    pub fn push(&mut self, item: T) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = item;
            self.len += 1;
        }
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps the first `len` items.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_past_the_capacity_are_dropped() {
        let mut list = FixedList::<u8, 2>::default();
        for item in 1..=3 {
            list.push(item);
        }
        assert_eq!(list.as_slice(), [1, 2]);
        list.truncate(1);
        assert_eq!(list.as_slice(), [1]);
        list.clear();
        assert!(list.as_slice().is_empty());
    }
}
