//! A growable array in fixed-size chunks: rows never move once written (no reallocation
//! copies of millions of rows, no doubling slack — a `Vec` holding 1.1M rows may own room
//! for 2M), and a row's index stays valid for its lifetime. Used for host and flow rows.

use std::ops::{Index, IndexMut};

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

#[derive(Debug, Clone)]
pub struct Slab<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Slab<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row and returns its index.
    pub fn push(&mut self, v: T) -> u32 {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(v);
        }
        self.len += 1;
        (self.len - 1) as u32
    }

    #[inline]
    pub fn get(&self, i: u32) -> Option<&T> {
        self.chunks.get((i >> CHUNK_BITS) as usize).and_then(|c| c.get(i as usize & (CHUNK - 1)))
    }

    #[inline]
    pub fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.chunks.get_mut((i >> CHUNK_BITS) as usize).and_then(|c| c.get_mut(i as usize & (CHUNK - 1)))
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }
}

impl<T> Index<u32> for Slab<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: u32) -> &T {
        &self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
    }
}

impl<T> IndexMut<u32> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_stable_across_chunks() {
        let mut s = Slab::default();
        for i in 0..10_000u32 {
            assert_eq!(s.push(i), i);
        }
        assert_eq!((s.len(), s[4095], s[4096], s[9999]), (10_000, 4095, 4096, 9999));
        s[5000] = 7;
        assert_eq!(s.get(5000), Some(&7));
        assert_eq!(s.get(10_000), None);
        assert_eq!(s.iter().count(), 10_000);
    }
}
