//! Reading every node's committed log into `commits.jsonl`: checkpoints during the run
//! (incremental) and one full, final read after the cluster has quiesced.

use crate::connectors::LogReader;
use crate::exit::Failure;
use crate::node_api::LogPage;
use crate::store::Jsonl;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use traitor_model::{CommitRead, NodeId};

/// Reads nodes' logs and appends what it read.
pub struct CommitReader {
    pub source: Arc<dyn LogReader>,
    /// How many nodes there are (0 to n-1).
    pub n: usize,
    pub log: Jsonl,
    pub run_start: Instant,
    pub incarnations: Arc<Mutex<Vec<u32>>>,
    /// Highest seq read so far per (node, incarnation).
    seen: HashMap<(NodeId, u32), u64>,
}

impl CommitReader {
    pub fn new(
        source: Arc<dyn LogReader>,
        n: usize,
        log: Jsonl,
        run_start: Instant,
        incarnations: Arc<Mutex<Vec<u32>>>,
    ) -> Self {
        Self {
            source,
            n,
            log,
            run_start,
            incarnations,
            seen: HashMap::new(),
        }
    }

    fn incarnation(&self, node: NodeId) -> u32 {
        self.incarnations.lock().unwrap_or_else(|p| p.into_inner())[node as usize]
    }

    /// A checkpoint: what each reachable node committed since the last read. Nodes that do
    /// not answer (crashed, partitioned from the harness) are skipped, and so is a read
    /// during which the node was restarted: which incarnation answered it is unknown.
    pub async fn checkpoint(&mut self) -> Result<(), Failure> {
        for node in 0..self.n as NodeId {
            let incarnation = self.incarnation(node);
            let from = self.seen.get(&(node, incarnation)).map_or(0, |s| s + 1);
            let read = self.source.log(node, from).await;
            if let (Ok(page), true) = (read, self.incarnation(node) == incarnation) {
                self.write(node, incarnation, from, page, false)?;
            }
        }
        Ok(())
    }

    /// Waits up to `bound` for the `correct` nodes to report the same height, then reads
    /// their logs in full. A Byzantine node's log proves nothing, and one that equivocates
    /// (its twin, say) may never catch up, so it is neither waited for nor read. Returns
    /// the correct nodes that could not be read.
    pub async fn final_read(
        &mut self,
        bound: Duration,
        correct: &[NodeId],
    ) -> Result<Vec<NodeId>, Failure> {
        let deadline = Instant::now() + bound;
        let mut pages: Vec<(NodeId, Option<LogPage>)> = Vec::new();
        loop {
            pages.clear();
            for &node in correct {
                let page = self.source.log(node, 0).await.ok();
                pages.push((node, page));
            }
            let heights: Vec<u64> = pages
                .iter()
                .flat_map(|(_, p)| p)
                .map(|p| p.committed)
                .collect();
            let settled = heights.len() == pages.len() && heights.windows(2).all(|w| w[0] == w[1]);
            if settled || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let mut unread = Vec::new();
        for (node, page) in pages.drain(..) {
            match page {
                Some(page) => self.write(node, self.incarnation(node), 0, page, true)?,
                None => unread.push(node),
            }
        }
        Ok(unread)
    }

    fn write(
        &mut self,
        node: NodeId,
        incarnation: u32,
        from: u64,
        page: LogPage,
        r#final: bool,
    ) -> Result<(), Failure> {
        if let Some(last) = page.entries.iter().map(|e| e.seq).max() {
            let seen = self.seen.entry((node, incarnation)).or_default();
            *seen = (*seen).max(last);
        }
        self.log.append(&CommitRead {
            node,
            time: self.run_start.elapsed().as_nanos() as u64,
            incarnation,
            r#final,
            from,
            committed: page.committed,
            entries: page.entries,
        })
    }
}
