//! Which part of a batch each shard of an array job reads, and the parts put back together
//! at finalize. Whole files go, the largest first, to the shard with the fewest bytes so
//! far; a Parquet file larger than an even share is split by its row groups instead, so
//! that one large file spreads over the shards too. Every shard computes the same split
//! from the same listing and the same footers.

use std::collections::BTreeMap;

use super::source::{self, SourceFile};
use crate::db::shards::{RowGroups, ShardSource};
use crate::error::{Result, joined};
use crate::job::FormatKind;

/// What one shard reads of one file of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The file's place in the batch.
    pub(crate) position: usize,
    /// Only these row groups (a split Parquet file), or the whole file.
    pub(crate) row_groups: Option<RowGroups>,
}

/// The row groups' sizes of each file to split, by position (`None`: read whole): Parquet
/// files larger than an even share of the batch, with more than one row group.
///
/// # Errors
///
/// Such a file cannot be read, or is not Parquet.
pub(crate) async fn row_groups(files: &[SourceFile], shards: u32) -> Result<Vec<Option<Vec<u64>>>> {
    let total: u64 = files.iter().map(|f| f.bytes).sum();
    let even = total / u64::from(shards.max(1));
    let mut groups = Vec::with_capacity(files.len());
    for file in files {
        if shards < 2 || file.format != FormatKind::Parquet || file.bytes <= even {
            groups.push(None);
            continue;
        }
        let file = file.clone();
        let sizes = tokio::task::spawn_blocking(move || source::parquet::row_group_bytes(&file))
            .await
            .map_err(joined)??;
        groups.push((sizes.len() > 1).then_some(sizes));
    }
    Ok(groups)
}

/// One unit of work: a whole file, or row group `.0` of `.1` of a split one.
#[derive(Debug, Clone, Copy)]
struct Unit {
    position: usize,
    row_group: Option<(usize, usize)>,
    bytes: u64,
}

/// The parts shard `index` of `shards` reads, in batch order: of the files (`sizes`, in
/// batch order), the split ones (`groups`, from [`row_groups`]) by row group.
pub(crate) fn share(sizes: &[u64], groups: &[Option<Vec<u64>>], shards: u32, index: u32) -> Vec<Part> {
    let mut units = Vec::with_capacity(sizes.len());
    for (position, &bytes) in sizes.iter().enumerate() {
        match groups.get(position).and_then(Option::as_ref) {
            Some(groups) => units.extend(groups.iter().enumerate().map(|(group, &bytes)| Unit {
                position,
                row_group: Some((group, groups.len())),
                bytes,
            })),
            None => units.push(Unit {
                position,
                row_group: None,
                bytes,
            }),
        }
    }
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|&a, &b| units[b].bytes.cmp(&units[a].bytes).then(a.cmp(&b)));
    let mut load = vec![0u64; shards as usize];
    let mut parts: BTreeMap<usize, Part> = BTreeMap::new();
    for unit in order.into_iter().map(|u| units[u]) {
        let lightest = (0..load.len()).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[lightest] += unit.bytes.max(1);
        if lightest != index as usize {
            continue;
        }
        let part = parts.entry(unit.position).or_insert(Part {
            position: unit.position,
            row_groups: None,
        });
        if let Some((group, of)) = unit.row_group {
            let read = part.row_groups.get_or_insert(RowGroups { read: Vec::new(), of });
            read.read.push(group);
        }
    }
    parts
        .into_values()
        .map(|mut part| {
            if let Some(groups) = &mut part.row_groups {
                groups.read.sort_unstable();
            }
            part
        })
        .collect()
}

/// The shards' sources put back together: one per file of the batch, in order, its rows
/// the sum of its parts'.
///
/// # Errors
///
/// What does not fit, in words: a file no shard read, or read whole by two; a row group
/// read twice or never; a file whose parts saw different content.
pub(crate) fn join(sources: Vec<ShardSource>) -> std::result::Result<Vec<ShardSource>, String> {
    let mut by_file: BTreeMap<usize, Vec<ShardSource>> = BTreeMap::new();
    for source in sources {
        by_file.entry(source.position).or_default().push(source);
    }
    let mut whole = Vec::with_capacity(by_file.len());
    for (expected, (position, parts)) in by_file.into_iter().enumerate() {
        if position != expected {
            return Err(format!("file {} of the batch was read by no shard", expected + 1));
        }
        whole.push(joined_parts(parts)?);
    }
    Ok(whole)
}

/// The parts of one file as one source.
fn joined_parts(mut parts: Vec<ShardSource>) -> std::result::Result<ShardSource, String> {
    let mut file = parts.remove(0);
    let path = file.record.path.clone();
    let mut groups = file.row_groups.take();
    for part in parts {
        if part.identity != file.identity {
            return Err(format!(
                "{path}: its shards saw different content (it changed between them)"
            ));
        }
        match (&mut groups, part.row_groups) {
            (Some(groups), Some(more)) if more.of == groups.of => groups.read.extend(more.read),
            _ => {
                return Err(format!(
                    "{path}: more than one shard read it whole, or split it differently"
                ));
            }
        }
        file.record.rows += part.record.rows;
    }
    if let Some(mut groups) = groups {
        groups.read.sort_unstable();
        if groups.read != (0..groups.of).collect::<Vec<_>>() {
            return Err(format!(
                "{path}: its shards read row groups {:?} of {}, not each once",
                groups.read, groups.of
            ));
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::{Part, join, share};
    use crate::db::ledger::SourceRecord;
    use crate::db::shards::{RowGroups, ShardSource};

    #[test]
    fn every_file_goes_to_exactly_one_shard_and_shards_are_even_by_size() {
        let files = [90, 10, 50, 50, 40, 30, 20, 10, 0];
        let whole = vec![None; files.len()];
        let split: Vec<Vec<usize>> = (0..3)
            .map(|i| share(&files, &whole, 3, i).iter().map(|p| p.position).collect())
            .collect();
        let mut all: Vec<usize> = split.concat();
        all.sort_unstable();
        assert_eq!(all, (0..files.len()).collect::<Vec<_>>());
        let sizes: Vec<u64> = split.iter().map(|s| s.iter().map(|&p| files[p]).sum()).collect();
        assert_eq!(sizes.iter().sum::<u64>(), 300);
        assert!(sizes.iter().all(|&s| (90..=110).contains(&s)), "{sizes:?}");
        // More shards than files: the others are empty, and that is a valid shard.
        assert!(share(&files[..2], &whole[..2], 4, 3).is_empty());
    }

    #[test]
    fn one_large_parquet_file_spreads_over_the_shards_by_row_group() {
        // File 1 (300 bytes) is split into 6 row groups; file 0 and 2 stay whole.
        let files = [40, 300, 20];
        let groups = [None, Some(vec![50, 50, 50, 50, 50, 50]), None];
        let parts: Vec<Vec<Part>> = (0..3).map(|i| share(&files, &groups, 3, i)).collect();
        let mut read: Vec<usize> = Vec::new();
        for (shard, parts) in parts.iter().enumerate() {
            let large = parts
                .iter()
                .find(|p| p.position == 1)
                .expect("every shard reads some of the large file");
            let groups = large.row_groups.as_ref().expect("split");
            assert_eq!(groups.of, 6);
            assert!(!groups.read.is_empty(), "shard {shard}");
            read.extend(&groups.read);
            assert!(parts.iter().filter(|p| p.position != 1).all(|p| p.row_groups.is_none()));
        }
        read.sort_unstable();
        assert_eq!(read, (0..6).collect::<Vec<_>>());
        let whole: Vec<usize> = parts
            .concat()
            .iter()
            .filter(|p| p.position != 1)
            .map(|p| p.position)
            .collect();
        assert_eq!(whole.len(), 2, "{parts:?}");
    }

    fn source(position: usize, identity: &str, groups: Option<(&[usize], usize)>, rows: u64) -> ShardSource {
        ShardSource {
            position,
            identity: identity.into(),
            row_groups: groups.map(|(read, of)| RowGroups {
                read: read.to_vec(),
                of,
            }),
            record: SourceRecord {
                path: format!("f{position}"),
                bytes: 10,
                sha256: None,
                etag: None,
                checksum: None,
                rows,
            },
        }
    }

    #[test]
    fn parts_join_into_whole_files_or_say_what_does_not_fit() {
        let joined = join(vec![
            source(1, "b", Some((&[0, 2], 3)), 20),
            source(0, "a", None, 5),
            source(1, "b", Some((&[1], 3)), 10),
        ])
        .unwrap();
        assert_eq!(joined.len(), 2);
        assert_eq!((joined[1].record.rows, joined[1].row_groups.clone()), (30, None));
        let gap = join(vec![
            source(0, "a", Some((&[0], 3)), 1),
            source(0, "a", Some((&[2], 3)), 1),
        ]);
        assert_eq!(
            gap.unwrap_err(),
            "f0: its shards read row groups [0, 2] of 3, not each once"
        );
        let twice = join(vec![
            source(0, "a", Some((&[0, 1], 2)), 1),
            source(0, "a", Some((&[1], 2)), 1),
        ]);
        assert!(twice.unwrap_err().contains("[0, 1, 1] of 2"));
        let changed = join(vec![
            source(0, "a", Some((&[0], 2)), 1),
            source(0, "x", Some((&[1], 2)), 1),
        ]);
        assert!(changed.unwrap_err().contains("changed between them"));
        let missing = join(vec![source(1, "b", None, 1)]);
        assert_eq!(missing.unwrap_err(), "file 1 of the batch was read by no shard");
    }
}
