//! Truncated backpropagation through time: an epoch's pieces, joined into one stream, cut into
//! `batch` parallel rows, read `sequence_length` tokens at a time. The recurrent state is
//! carried from one chunk to the next along each row (and cut from the gradient graph).

/// One epoch's token rows.
#[derive(Debug)]
pub struct Batches {
    rows: Vec<u32>,
    batch: usize,
    row_len: usize,
    sequence_length: usize,
}

/// One chunk: inputs and the targets one step later, both `batch × len`, row-major.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunk {
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
    pub len: usize,
}

impl Batches {
    /// Joins the pieces and cuts them into rows; the remainder that does not fill a row is dropped.
    pub fn new(pieces: &[&[u32]], batch: usize, sequence_length: usize) -> Result<Self, String> {
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        let row_len = total / batch;
        if row_len < 2 {
            return Err(format!(
                "the training data holds {total} tokens: too few for {batch} rows \
                 (lower training.batch_size)"
            ));
        }
        let longest = pieces.iter().map(|p| p.len()).max().unwrap_or(0);
        if sequence_length > longest && sequence_length >= row_len {
            return Err(format!(
                "training.sequence_length {sequence_length} is longer than every piece (the \
                 longest has {longest} tokens) and than a batch row ({row_len} tokens)"
            ));
        }
        let rows = pieces
            .iter()
            .flat_map(|p| p.iter().copied())
            .take(row_len * batch)
            .collect();
        Ok(Self {
            rows,
            batch,
            row_len,
            sequence_length,
        })
    }

    /// Chunks in the epoch.
    pub fn len(&self) -> usize {
        (self.row_len - 1).div_ceil(self.sequence_length)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn tokens_per_epoch(&self) -> usize {
        (self.row_len - 1) * self.batch
    }

    pub fn chunk(&self, index: usize) -> Chunk {
        let start = index * self.sequence_length;
        let len = self.sequence_length.min(self.row_len - 1 - start);
        let mut inputs = Vec::with_capacity(self.batch * len);
        let mut targets = Vec::with_capacity(self.batch * len);
        for row in self.rows.chunks_exact(self.row_len) {
            inputs.extend_from_slice(&row[start..start + len]);
            targets.extend_from_slice(&row[start + 1..start + 1 + len]);
        }
        Chunk {
            inputs,
            targets,
            len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_continue_from_chunk_to_chunk() {
        let piece: Vec<u32> = (0..21).collect();
        let batches = Batches::new(&[&piece], 2, 4).unwrap();
        // Rows 0..10 and 10..20; 9 predictions per row in chunks of 4, 4, 1.
        assert_eq!(batches.len(), 3);
        assert_eq!(batches.tokens_per_epoch(), 18);
        let first = batches.chunk(0);
        assert_eq!(first.inputs, vec![0, 1, 2, 3, 10, 11, 12, 13]);
        assert_eq!(first.targets, vec![1, 2, 3, 4, 11, 12, 13, 14]);
        let last = batches.chunk(2);
        assert_eq!(
            (last.inputs, last.targets, last.len),
            (vec![8, 18], vec![9, 19], 1)
        );
    }

    #[test]
    fn too_little_data_is_a_clear_error() {
        let error = Batches::new(&[&[1, 2, 3]], 4, 8).unwrap_err();
        assert!(error.contains("too few for 4 rows"), "{error}");
        let pieces: Vec<Vec<u32>> = vec![vec![0; 10]; 3];
        let refs: Vec<&[u32]> = pieces.iter().map(Vec::as_slice).collect();
        let error = Batches::new(&refs, 1, 100).unwrap_err();
        assert!(error.contains("longer than every piece"), "{error}");
    }
}
