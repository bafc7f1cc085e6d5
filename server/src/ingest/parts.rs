//! Work on an upload's slabs shared out over the machine's cores: the slabs are independent
//! once reading ends (sorting, duplicates, comparing with the store), and a large upload has
//! hundreds of them, so contiguous runs of slabs of about equal weight go to scoped threads and
//! the results come back in order.

/// Below this total weight (values) one thread does it all: a thread costs more than the work.
const MIN_PARALLEL: usize = 200_000;

/// Splits `items` into contiguous parts of about equal total `weight`, one per core (only
/// one below [`MIN_PARALLEL`]), runs `work` on each part on its own thread, and
/// returns the results in the parts' order.
pub fn in_parts<T, R>(
    items: &mut [T],
    weight: impl Fn(&T) -> usize,
    work: impl Fn(&mut [T]) -> R + Sync,
) -> Vec<R>
where
    T: Send,
    R: Send,
{
    let total: usize = items.iter().map(&weight).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = if total < MIN_PARALLEL {
        1
    } else {
        cores.min(items.len()).max(1)
    };
    if parts == 1 {
        return vec![work(items)];
    }
    let mut bounds = Vec::with_capacity(parts);
    let (mut acc, mut next) = (0usize, 1usize);
    for (i, it) in items.iter().enumerate() {
        acc += weight(it);
        if next < parts && acc * parts >= total * next {
            bounds.push(i + 1);
            next += 1;
        }
    }
    let mut chunks = Vec::with_capacity(parts);
    let mut rest = items;
    let mut taken = 0;
    for b in bounds {
        let (head, tail) = rest.split_at_mut(b - taken);
        chunks.push(head);
        rest = tail;
        taken = b;
    }
    chunks.push(rest);
    let work = &work;
    let mut chunks = chunks.into_iter();
    std::thread::scope(|s| {
        let first = chunks.next();
        let others: Vec<_> = chunks.map(|c| s.spawn(move || work(c))).collect();
        // The first part runs on this thread rather than it waiting idle.
        let mut out = Vec::with_capacity(parts);
        out.extend(first.map(work));
        for h in others {
            out.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_worked_on_once_and_results_come_back_in_order() {
        for n in [0usize, 1, 2, 3, 7, 1000] {
            let mut items: Vec<usize> = (0..n).collect();
            // Heavy enough to be split; uneven weights.
            let parts = in_parts(
                &mut items,
                |i| 1 + (i % 5) * 100_000,
                |part| {
                    for x in part.iter_mut() {
                        *x += 1;
                    }
                    part.to_vec()
                },
            );
            let flat: Vec<usize> = parts.concat();
            assert_eq!(flat, (1..=n).collect::<Vec<_>>(), "n = {n}");
            assert_eq!(items, flat);
        }
    }

    #[test]
    fn a_light_load_stays_on_one_thread() {
        let mut items = vec![1usize; 10];
        let parts = in_parts(&mut items, |_| 1, |p| p.len());
        assert_eq!(parts, vec![10]);
    }
}
