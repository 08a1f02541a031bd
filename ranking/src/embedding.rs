//! User and offer embeddings learned in batch from the interaction matrix.
//!
//! The matrix (users × offers, weights from bookings and interactions) is factored by a
//! randomised truncated SVD (Halko, Martinsson & Tropp 2011): a few sparse products with a
//! random block, orthonormalised between products, then the exact SVD of a small matrix.
//! Offer embeddings are `V·√Σ`; a user's embedding is folded in from their history as
//! `Σ aᵢ·itemᵢ / σ`, which equals `U·√Σ` for a user of the training matrix, so a user who
//! booked since the last build still gets an up-to-date embedding without a rebuild.
//!
//! Cold start: user embeddings are grouped by KMeans (linfa) into taste clusters; each
//! group of users (for instance an age and a department) keeps the mix of clusters its
//! users fall in, and a user with no history starts from that mix's centroid.

use std::collections::HashMap;
use std::sync::Arc;

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use linfa_linalg::eigh::Eigh;
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::intern::FastMap;

/// What can go wrong learning, saving or loading embeddings.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// The matrix is too small or empty for the asked dimension.
    #[error("cannot learn embeddings: {0}")]
    Degenerate(String),
    /// A linear-algebra routine failed (it should not on finite input).
    #[error("linear algebra: {0}")]
    Linalg(String),
    /// A model file that is not one, or of another version.
    #[error("model file: {0}")]
    Format(String),
}

/// A sparse users × items matrix in compressed rows; duplicate cells are summed.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionMatrix {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl InteractionMatrix {
    /// Builds the matrix from `(row, column, weight)` cells; cells outside the shape are ignored.
    pub fn from_triplets(
        rows: usize,
        cols: usize,
        cells: impl IntoIterator<Item = (u32, u32, f32)>,
    ) -> InteractionMatrix {
        let mut cells: Vec<(u32, u32, f32)> = cells
            .into_iter()
            .filter(|&(r, c, w)| (r as usize) < rows && (c as usize) < cols && w.is_finite())
            .collect();
        cells.par_sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0usize; rows + 1];
        let mut indices = Vec::with_capacity(cells.len());
        let mut values: Vec<f32> = Vec::with_capacity(cells.len());
        let mut last: Option<(u32, u32)> = None;
        for (r, c, w) in cells {
            if last == Some((r, c)) {
                *values.last_mut().expect("a cell before") += w;
                continue;
            }
            last = Some((r, c));
            indptr[r as usize + 1] += 1;
            indices.push(c);
            values.push(w);
        }
        for r in 0..rows {
            indptr[r + 1] += indptr[r];
        }
        InteractionMatrix {
            rows,
            cols,
            indptr,
            indices,
            values,
        }
    }

    /// Number of rows (users).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (items).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of stored cells.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The cells of one row as `(column, weight)`.
    pub fn row(&self, r: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let span = self.indptr[r]..self.indptr[r + 1];
        self.indices[span.clone()]
            .iter()
            .zip(&self.values[span])
            .map(|(&c, &w)| (c as usize, w))
    }

    /// The transpose (items × users).
    pub fn transpose(&self) -> InteractionMatrix {
        let cells =
            (0..self.rows).flat_map(|r| self.row(r).map(move |(c, w)| (c as u32, r as u32, w)));
        InteractionMatrix::from_triplets(self.cols, self.rows, cells)
    }

    /// `self · x` for a dense `x` of `cols` rows, rows computed in parallel.
    fn mul_dense(&self, x: &Array2<f64>) -> Array2<f64> {
        let k = x.ncols();
        let mut out = Array2::<f64>::zeros((self.rows, k));
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(r, mut row)| {
                for (c, w) in self.row(r) {
                    row.scaled_add(w as f64, &x.row(c));
                }
            });
        out
    }
}

/// How to factor the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SvdParams {
    /// Embedding dimension (default 32).
    pub dim: usize,
    /// Extra random directions beyond `dim`, for accuracy (default 10).
    pub oversample: usize,
    /// Power iterations, which sharpen the spectrum of a slowly decaying matrix (default 3).
    pub power_iterations: usize,
    /// Seed of the random block: the same inputs give the same factors.
    pub seed: u64,
}

impl Default for SvdParams {
    fn default() -> Self {
        SvdParams {
            dim: 32,
            oversample: 10,
            power_iterations: 3,
            seed: 42,
        }
    }
}

/// A truncated SVD `A ≈ U Σ Vᵀ`, singular values in decreasing order.
#[derive(Debug, Clone)]
pub struct Factors {
    /// `σ₁ ≥ σ₂ ≥ …`, `dim` of them (fewer when the matrix has lower rank).
    pub singular_values: Vec<f64>,
    /// `U`, rows × dim.
    pub u: Array2<f64>,
    /// `V`, cols × dim.
    pub v: Array2<f64>,
}

/// Rows per parallel chunk of the tall products below.
const CHUNK_ROWS: usize = 16_384;

/// An orthonormal basis of the column space of the tall `y` (rows × l, l small).
///
/// A Householder QR of a million rows is sequential and was most of a build; this goes
/// through the small Gram matrix instead: `G = YᵀY = V Λ Vᵀ`, so `Y V Λ^-½` has orthonormal
/// columns, both products parallel over row chunks. Squaring the condition number loses
/// accuracy in the weakest directions, so the basis is refined by a second pass (as in
/// CholeskyQR2), and directions below `1e-12` of the strongest are dropped, as a rank-
/// revealing QR would.
fn orthonormal(y: &Array2<f64>) -> Result<Array2<f64>, EmbeddingError> {
    let once = gram_pass(y)?;
    gram_pass(&once)
}

fn gram_pass(y: &Array2<f64>) -> Result<Array2<f64>, EmbeddingError> {
    let l = y.ncols();
    let chunks: Vec<_> = y.axis_chunks_iter(Axis(0), CHUNK_ROWS).collect();
    let gram = chunks
        .par_iter()
        .map(|chunk| chunk.t().dot(chunk))
        .reduce(|| Array2::zeros((l, l)), |a, b| a + b);
    let (values, vectors) = gram
        .eigh()
        .map_err(|e| EmbeddingError::Linalg(e.to_string()))?;
    let top = values.iter().copied().fold(0.0, f64::max);
    let kept: Vec<usize> = (0..l).filter(|&i| values[i] > top * 1e-12).collect();
    if kept.is_empty() {
        return Err(EmbeddingError::Degenerate("the matrix is zero".into()));
    }
    let mut t = vectors.select(Axis(1), &kept);
    for (mut col, &i) in t.axis_iter_mut(Axis(1)).zip(&kept) {
        col /= values[i].sqrt();
    }
    let mut q = Array2::<f64>::zeros((y.nrows(), kept.len()));
    let mut outs: Vec<_> = q.axis_chunks_iter_mut(Axis(0), CHUNK_ROWS).collect();
    outs.par_iter_mut()
        .zip(&chunks)
        .for_each(|(out, chunk)| out.assign(&chunk.dot(&t)));
    Ok(q)
}

/// The truncated SVD of `a` by randomised range finding.
pub fn truncated_svd(a: &InteractionMatrix, params: &SvdParams) -> Result<Factors, EmbeddingError> {
    let l = (params.dim + params.oversample).min(a.rows).min(a.cols);
    if params.dim == 0 || l == 0 || a.nnz() == 0 {
        return Err(EmbeddingError::Degenerate(format!(
            "{}×{} matrix with {} cells for dimension {}",
            a.rows,
            a.cols,
            a.nnz(),
            params.dim
        )));
    }
    let at = a.transpose();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    // Uniform on [-1, 1] spans the range as well as a Gaussian block does.
    let omega = Array2::from_shape_fn((a.cols, l), |_| rng.gen_range(-1.0..1.0));
    let mut q = orthonormal(&a.mul_dense(&omega))?;
    for _ in 0..params.power_iterations {
        let z = orthonormal(&at.mul_dense(&q))?;
        q = orthonormal(&a.mul_dense(&z))?;
    }
    // B = Qᵀ A is l × cols; its SVD comes from the eigenvectors of the small B Bᵀ.
    let bt = at.mul_dense(&q); // cols × l
    let gram = bt.t().dot(&bt); // l × l
    let (values, vectors) = gram
        .eigh()
        .map_err(|e| EmbeddingError::Linalg(e.to_string()))?;
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
    let top = values
        .iter()
        .map(|&v| v.max(0.0).sqrt())
        .fold(0.0, f64::max);
    let kept: Vec<usize> = order
        .into_iter()
        .take(params.dim)
        .filter(|&i| values[i].max(0.0).sqrt() > top * 1e-9)
        .collect();
    if kept.is_empty() {
        return Err(EmbeddingError::Degenerate("the matrix is zero".into()));
    }
    let w = vectors.select(Axis(1), &kept); // l × k
    let singular_values: Vec<f64> = kept.iter().map(|&i| values[i].sqrt()).collect();
    let u = q.dot(&w);
    let mut v = bt.dot(&w);
    for (mut col, s) in v.axis_iter_mut(Axis(1)).zip(&singular_values) {
        col /= *s;
    }
    Ok(Factors {
        singular_values,
        u,
        v,
    })
}

/// How to build a [`TasteModel`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelParams {
    /// The factorisation.
    pub svd: SvdParams,
    /// Taste clusters for cold start (default 12).
    pub clusters: usize,
    /// Groups with fewer users than this get no prior of their own (default 5).
    pub min_group_users: usize,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            svd: SvdParams::default(),
            clusters: 12,
            min_group_users: 5,
        }
    }
}

/// The learned model: offer embeddings, the scale to fold users in, and cold-start priors.
/// Saved to a file by [`TasteModel::to_bytes`] and read back at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TasteModel {
    /// Embedding dimension.
    pub dim: usize,
    /// Singular values, to fold users in.
    pub singular_values: Vec<f32>,
    /// The item id of each row of `item_factors`.
    pub item_ids: Vec<u64>,
    /// Item embeddings, row-major, `item_ids.len() × dim`.
    pub item_factors: Vec<f32>,
    /// Taste cluster centroids, row-major, `clusters × dim` (unit-length user embeddings).
    pub centroids: Vec<f32>,
    /// Per group key (e.g. `age=17|dept=75`), the prior embedding of a user without history.
    pub priors: HashMap<String, Vec<f32>>,
    /// Row of each item id: a feed looks up thousands of ids.
    #[serde(skip)]
    index: Rows,
    /// `item_factors` with each row scaled to unit length, in one block: a feed borrows
    /// thousands of rows, and one allocation per row cost a cache miss and two atomic
    /// counts each.
    #[serde(skip)]
    unit_factors: Vec<f32>,
}

/// The row of each item id. A store's ids are serials, so a table indexed by id is
/// usually a few bytes per item and one read per lookup, where a hash map of a million
/// ids took two cache misses (the feed's lookups of its 2,300 candidates were 4.7 % of
/// the server's CPU); ids too sparse for a table go in a hash map.
#[derive(Debug, Clone)]
enum Rows {
    /// Indexed by id; [`NO_ROW`] for an id without one.
    Table(Vec<u32>),
    Map(FastMap<u64, u32>),
}

/// The entry of [`Rows::Table`] for an id the model does not know.
const NO_ROW: u32 = u32::MAX;

impl Default for Rows {
    fn default() -> Self {
        Rows::Table(Vec::new())
    }
}

impl Rows {
    /// The rows of `ids`, the `i`-th id on row `i`.
    fn new(ids: &[u64]) -> Rows {
        let largest = ids.iter().max().copied().unwrap_or(0);
        // At most four table entries per item (16 bytes, as many as a map's entry).
        let dense = largest / 4 < ids.len() as u64 && ids.len() < NO_ROW as usize;
        if dense {
            let mut table = vec![NO_ROW; largest as usize + 1];
            for (row, &id) in ids.iter().enumerate() {
                table[id as usize] = row as u32;
            }
            Rows::Table(table)
        } else {
            Rows::Map(
                ids.iter()
                    .enumerate()
                    .map(|(row, &id)| (id, row as u32))
                    .collect(),
            )
        }
    }

    /// The row of `id`, if it has one.
    #[inline]
    fn get(&self, id: u64) -> Option<usize> {
        let row = match self {
            Rows::Table(table) => usize::try_from(id)
                .ok()
                .and_then(|i| table.get(i))
                .copied()
                .filter(|&r| r != NO_ROW),
            Rows::Map(map) => map.get(&id).copied(),
        };
        row.map(|r| r as usize)
    }
}

/// Users KMeans learns the taste clusters from, at most (all of them below that).
const KMEANS_SAMPLE: usize = 50_000;

/// KMeans restarts from different seeds; the tightest clustering is kept.
const KMEANS_RUNS: usize = 4;

/// Written first in a model file, so a foreign or older file is refused rather than misread.
const MAGIC: &[u8; 8] = b"MOSTM001";

impl TasteModel {
    /// Learns the model from `matrix` (rows are users, columns items with ids `item_ids`),
    /// where `user_groups[r]` lists the group keys of row `r` (most specific first is not
    /// required: every key of a user counts toward that group's prior).
    pub fn fit(
        matrix: &InteractionMatrix,
        item_ids: &[u64],
        user_groups: &[Vec<String>],
        params: &ModelParams,
    ) -> Result<TasteModel, EmbeddingError> {
        if item_ids.len() != matrix.cols() || user_groups.len() != matrix.rows() {
            return Err(EmbeddingError::Degenerate(format!(
                "{} item ids and {} user groups for a {}×{} matrix",
                item_ids.len(),
                user_groups.len(),
                matrix.rows(),
                matrix.cols()
            )));
        }
        let f = truncated_svd(matrix, &params.svd)?;
        let dim = f.singular_values.len();
        let roots: Vec<f64> = f.singular_values.iter().map(|s| s.sqrt()).collect();
        let mut item_factors = Vec::with_capacity(item_ids.len() * dim);
        for row in f.v.rows() {
            item_factors.extend(row.iter().zip(&roots).map(|(x, r)| (x * r) as f32));
        }
        // Users with history, as unit vectors: clusters of direction, i.e. of taste mix.
        let active: Vec<usize> = (0..matrix.rows())
            .filter(|&r| matrix.row(r).next().is_some())
            .collect();
        let mut users = Array2::<f64>::zeros((active.len(), dim));
        for (i, &r) in active.iter().enumerate() {
            let mut row = users.row_mut(i);
            row.assign(&(&f.u.row(r) * &ndarray::Array1::from(roots.clone())));
            let norm = row.dot(&row).sqrt();
            if norm > 0.0 {
                row /= norm;
            }
        }
        let k = params.clusters.min(active.len()).max(1);
        let (centroids, labels) = if active.is_empty() {
            (Array2::zeros((1, dim)), Vec::new())
        } else {
            // Centroids of a dozen clusters are as well placed from a sample of users as
            // from all of them, and KMeans over a million rows is most of a build.
            let mut rng = ChaCha8Rng::seed_from_u64(params.svd.seed);
            let sample = if users.nrows() > KMEANS_SAMPLE {
                let mut picked =
                    rand::seq::index::sample(&mut rng, users.nrows(), KMEANS_SAMPLE).into_vec();
                picked.sort_unstable();
                users.select(Axis(0), &picked)
            } else {
                users.clone()
            };
            let model = KMeans::params_with_rng(k, rng)
                .n_runs(KMEANS_RUNS)
                .max_n_iterations(100)
                .tolerance(1e-5)
                .fit(&DatasetBase::from(sample))
                .map_err(|e| EmbeddingError::Linalg(e.to_string()))?;
            let labels: Vec<usize> = model.predict(&users).to_vec();
            (model.centroids().clone(), labels)
        };
        let mut counts: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, &r) in active.iter().enumerate() {
            for key in &user_groups[r] {
                counts.entry(key.as_str()).or_insert_with(|| vec![0; k])[labels[i]] += 1;
            }
        }
        let priors = counts
            .into_iter()
            .filter(|(_, c)| c.iter().sum::<usize>() >= params.min_group_users)
            .map(|(key, c)| {
                let total = c.iter().sum::<usize>() as f64;
                let mut prior = vec![0f32; dim];
                for (cluster, n) in c.iter().enumerate() {
                    for (p, x) in prior.iter_mut().zip(centroids.row(cluster)) {
                        *p += (*n as f64 / total * x) as f32;
                    }
                }
                (key.to_string(), prior)
            })
            .collect();
        let mut model = TasteModel {
            dim,
            singular_values: f.singular_values.iter().map(|&s| s as f32).collect(),
            item_ids: item_ids.to_vec(),
            item_factors,
            centroids: centroids.iter().map(|&x| x as f32).collect(),
            priors,
            index: Rows::default(),
            unit_factors: Vec::new(),
        };
        model.rebuild_lookups();
        Ok(model)
    }

    /// [`TasteModel::fit`] on weighted `(user id, item id, weight)` events, with the group
    /// keys of each user (users without keys belong to no group); ids are any integers.
    pub fn fit_events(
        events: &[(u64, u64, f32)],
        user_groups: &HashMap<u64, Vec<String>>,
        params: &ModelParams,
    ) -> Result<TasteModel, EmbeddingError> {
        let mut users: HashMap<u64, u32> = HashMap::new();
        let mut items: HashMap<u64, u32> = HashMap::new();
        let mut item_ids = Vec::new();
        let mut groups = Vec::new();
        let mut cells = Vec::with_capacity(events.len());
        for &(u, i, w) in events {
            let next = users.len() as u32;
            let row = *users.entry(u).or_insert_with(|| {
                groups.push(user_groups.get(&u).cloned().unwrap_or_default());
                next
            });
            let next = items.len() as u32;
            let col = *items.entry(i).or_insert_with(|| {
                item_ids.push(i);
                next
            });
            cells.push((row, col, w));
        }
        let mut matrix = InteractionMatrix::from_triplets(users.len(), items.len(), cells);
        // Repeated signals on one item say less than the first: damp the summed weight.
        matrix
            .values
            .iter_mut()
            .for_each(|w| *w = w.max(0.0).ln_1p());
        TasteModel::fit(&matrix, &item_ids, &groups, params)
    }

    fn rebuild_lookups(&mut self) {
        self.index = Rows::new(&self.item_ids);
        self.unit_factors = self.item_factors.clone();
        self.unit_factors
            .chunks_mut(self.dim.max(1))
            .for_each(normalise);
    }

    /// Lays the items' rows out in memory in `order` (ids the model does not know, and
    /// repeats, are skipped; items `order` leaves out follow, as they were). The model is
    /// the same: every lookup gives what it gave before.
    ///
    /// A feed reads the rows of its 2,000 candidates, offers near one another; rows in the
    /// order of a store's ids scatter them over the whole table, a cache miss or two each.
    /// Given the offers in the order the index keeps them, by place, a feed's rows lie
    /// side by side.
    ///
    /// ```
    /// # use ranking::embedding::TasteModel;
    /// # fn arranged(mut model: TasteModel) {
    /// let first = model.item_ids[0];
    /// let before = model.item(first).map(<[f32]>::to_vec);
    /// model.arrange(model.item_ids.iter().rev().copied().collect::<Vec<_>>());
    /// assert_eq!(model.item_ids.last(), Some(&first));
    /// assert_eq!(model.item(first).map(<[f32]>::to_vec), before);
    /// # }
    /// ```
    pub fn arrange(&mut self, order: impl IntoIterator<Item = u64>) {
        let n = self.item_ids.len();
        let mut placed = vec![false; n];
        let mut rows = Vec::with_capacity(n);
        for id in order {
            if let Some(row) = self.index.get(id).filter(|&row| !placed[row]) {
                placed[row] = true;
                rows.push(row);
            }
        }
        rows.extend((0..n).filter(|&row| !placed[row]));
        let dim = self.dim;
        let permute = |values: &[f32]| -> Vec<f32> {
            let mut out = Vec::with_capacity(values.len());
            for &row in &rows {
                out.extend_from_slice(&values[row * dim..(row + 1) * dim]);
            }
            out
        };
        self.item_factors = permute(&self.item_factors);
        self.unit_factors = permute(&self.unit_factors);
        self.item_ids = rows.iter().map(|&row| self.item_ids[row]).collect();
        self.index = Rows::new(&self.item_ids);
    }

    /// Number of items with an embedding.
    pub fn items(&self) -> usize {
        self.item_ids.len()
    }

    /// The embedding of an item, of unit length (so that its dot product with a user's is
    /// their cosine, in `[-1, 1]`), if the model knows the item.
    pub fn item(&self, id: u64) -> Option<&[f32]> {
        self.index
            .get(id)
            .map(|i| &self.unit_factors[i * self.dim..(i + 1) * self.dim])
    }

    /// A user's embedding, of unit length, folded in from their weighted history
    /// `(item id, weight)`; `None` when no item of it is known to the model.
    pub fn fold_in(&self, history: impl IntoIterator<Item = (u64, f32)>) -> Option<Arc<[f32]>> {
        let mut u = vec![0f32; self.dim];
        let mut any = false;
        for (id, w) in history {
            if let Some(i) = self.index.get(id) {
                any = true;
                let row = &self.item_factors[i * self.dim..(i + 1) * self.dim];
                for (x, y) in u.iter_mut().zip(row) {
                    *x += w * y;
                }
            }
        }
        if !any {
            return None;
        }
        for (x, s) in u.iter_mut().zip(&self.singular_values) {
            *x /= s.max(f32::EPSILON);
        }
        Some(unit(&u))
    }

    /// The cold-start prior (of unit length) of the first of `keys` that has one (e.g. age and department,
    /// then age alone, then everyone).
    pub fn prior<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Option<Arc<[f32]>> {
        keys.into_iter()
            .find_map(|k| self.priors.get(k))
            .map(|p| unit(p))
    }

    /// Number of taste clusters.
    pub fn clusters(&self) -> usize {
        self.centroids.len() / self.dim.max(1)
    }

    /// The model as bytes, for a file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EmbeddingError> {
        let mut out = MAGIC.to_vec();
        out.extend(
            bincode::serde::encode_to_vec(self, bincode::config::standard())
                .map_err(|e| EmbeddingError::Format(e.to_string()))?,
        );
        Ok(out)
    }

    /// A model read back from [`TasteModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<TasteModel, EmbeddingError> {
        let body = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
            EmbeddingError::Format("not a Mosaic taste model (bad header)".into())
        })?;
        let (mut model, _): (TasteModel, usize) =
            bincode::serde::decode_from_slice(body, bincode::config::standard())
                .map_err(|e| EmbeddingError::Format(e.to_string()))?;
        if model.item_factors.len() != model.item_ids.len() * model.dim
            || model.singular_values.len() != model.dim
        {
            return Err(EmbeddingError::Format("inconsistent shapes".into()));
        }
        model.rebuild_lookups();
        Ok(model)
    }
}

/// `v` scaled to unit length (left as is when zero).
fn unit(v: &[f32]) -> Arc<[f32]> {
    let mut v = v.to_vec();
    normalise(&mut v);
    v.into()
}

/// Scales `v` to unit length, unless it is zero.
fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two embeddings (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        ab += (*x as f64) * (*y as f64);
        aa += (*x as f64) * (*x as f64);
        bb += (*y as f64) * (*y as f64);
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_whether_ids_are_dense_or_sparse() {
        let dense = vec![3u64, 1, 2, 7];
        for ids in [dense.clone(), vec![5, u64::MAX, 1 << 40, 9], vec![]] {
            let rows = Rows::new(&ids);
            assert_eq!(matches!(rows, Rows::Table(_)), ids == dense);
            for (row, &id) in ids.iter().enumerate() {
                assert_eq!(rows.get(id), Some(row), "{ids:?}");
            }
            for absent in [0u64, 4, 8, 1 << 41, u64::MAX - 1] {
                if !ids.contains(&absent) {
                    assert_eq!(rows.get(absent), None, "{ids:?}");
                }
            }
        }
    }

    /// Three planted taste blocks: users of block b interact with items of block b only
    /// (plus a little noise), 30 users and 15 items per block.
    fn planted() -> (InteractionMatrix, Vec<u64>, Vec<Vec<String>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut cells = Vec::new();
        for u in 0..90u32 {
            let block = u / 30;
            for _ in 0..6 {
                let item = block * 15 + rng.gen_range(0..15);
                cells.push((u, item, 1.0));
            }
            if rng.gen_bool(0.2) {
                cells.push((u, rng.gen_range(0..45), 0.3));
            }
        }
        let groups = (0..90)
            .map(|u| vec![format!("block={}", u / 30), "*".to_string()])
            .collect();
        (
            InteractionMatrix::from_triplets(90, 45, cells),
            (1000..1045).collect(),
            groups,
        )
    }

    /// The model of [`planted`], in 3 dimensions with 3 clusters, and its item ids.
    fn planted_model() -> (TasteModel, Vec<u64>) {
        let (m, ids, groups) = planted();
        let params = ModelParams {
            svd: SvdParams {
                dim: 3,
                ..SvdParams::default()
            },
            clusters: 3,
            min_group_users: 5,
        };
        (TasteModel::fit(&m, &ids, &groups, &params).unwrap(), ids)
    }

    /// Arranged in any order, with unknown ids and repeats, the model gives every item
    /// and every user the same embedding, and its rows follow the order.
    #[test]
    fn arranging_rows_changes_no_embedding() {
        let (model, ids) = planted_model();
        let history = [(1003, 1.0), (1020, 0.5), (1044, 2.0)];
        let order = [1040, 7, 1002, 1040, 1001, 1044, 99_999];
        let mut arranged = model.clone();
        arranged.arrange(order);
        assert_eq!(&arranged.item_ids[..4], &[1040, 1002, 1001, 1044]);
        let rest: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| !order.contains(id))
            .collect();
        assert_eq!(&arranged.item_ids[4..], rest.as_slice());
        for &id in &ids {
            assert_eq!(arranged.item(id), model.item(id), "item {id}");
        }
        assert_eq!(arranged.item(7), None);
        assert_eq!(arranged.fold_in(history), model.fold_in(history));
        let back = TasteModel::from_bytes(&arranged.to_bytes().unwrap()).unwrap();
        assert_eq!(back.item(1044), model.item(1044));
    }

    #[test]
    fn embeddings_recover_planted_blocks() {
        let (model, _) = planted_model();
        assert_eq!(model.dim, 3);
        // Items of one block point the same way; items of different blocks do not.
        let item = |i: u64| model.item(1000 + i).unwrap();
        let mut same = Vec::new();
        let mut other = Vec::new();
        for i in 0..45u64 {
            for j in (i + 1)..45 {
                let s = cosine(item(i), item(j));
                if i / 15 == j / 15 {
                    same.push(s)
                } else {
                    other.push(s)
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean(&same) > 0.8, "same block {}", mean(&same));
        assert!(mean(&other) < 0.2, "across blocks {}", mean(&other));
        // A user folded in from block-1 items prefers unseen block-1 items to others.
        let user = model
            .fold_in([(1015, 1.0), (1016, 1.0), (1017, 1.0)])
            .unwrap();
        let best = (0..45u64)
            .max_by(|&a, &b| cosine(&user, item(a)).total_cmp(&cosine(&user, item(b))))
            .unwrap();
        assert_eq!(best / 15, 1);
        // The prior of block 2's users points at block-2 items.
        let prior = model.prior(["block=9", "block=2"]).unwrap();
        assert!(cosine(&prior, item(40)) > 0.8);
        assert!(cosine(&prior, item(3)) < 0.3);
        assert!(model.prior(["nobody"]).is_none());
    }

    #[test]
    fn the_basis_is_orthonormal_and_spans_the_input() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Tall, with a rank-deficient column (a sum of two others) and a wide spread of scales.
        let mut y = Array2::from_shape_fn((40_000, 6), |_| rng.gen_range(-1.0..1.0));
        let (a, b) = (y.column(0).to_owned(), y.column(1).to_owned());
        y.column_mut(4).assign(&(&a + &b));
        y.column_mut(5).mapv_inplace(|x| x * 1e-4);
        let q = orthonormal(&y).unwrap();
        assert_eq!(q.ncols(), 5, "the dependent column adds no direction");
        let qtq = q.t().dot(&q);
        for i in 0..5 {
            for j in 0..5 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (qtq[[i, j]] - want).abs() < 1e-10,
                    "QᵀQ[{i},{j}] = {}",
                    qtq[[i, j]]
                );
            }
        }
        // Projecting Y on the basis gives Y back.
        let back = q.dot(&q.t().dot(&y));
        let err = (&back - &y).mapv(f64::abs).fold(0.0, |m: f64, &x| m.max(x));
        assert!(err < 1e-9, "{err}");
    }

    #[test]
    fn singular_values_match_a_known_matrix() {
        // diag(3, 2, 1) padded with a zero row: singular values are 3, 2, 1.
        let m = InteractionMatrix::from_triplets(4, 3, [(0, 0, 3.0), (1, 1, 2.0), (2, 2, 1.0)]);
        let f = truncated_svd(
            &m,
            &SvdParams {
                dim: 3,
                oversample: 0,
                ..SvdParams::default()
            },
        )
        .unwrap();
        let s = &f.singular_values;
        assert!(
            (s[0] - 3.0).abs() < 1e-6 && (s[1] - 2.0).abs() < 1e-6 && (s[2] - 1.0).abs() < 1e-6,
            "{s:?}"
        );
    }

    #[test]
    fn duplicate_cells_add_up() {
        let m = InteractionMatrix::from_triplets(
            2,
            2,
            [(1, 0, 1.0), (0, 1, 2.0), (1, 0, 0.5), (5, 0, 9.0)],
        );
        assert_eq!(m.nnz(), 2);
        assert_eq!(m.row(1).collect::<Vec<_>>(), vec![(0, 1.5)]);
        assert_eq!(m.transpose().row(1).collect::<Vec<_>>(), vec![(0, 2.0)]);
    }

    #[test]
    fn a_model_survives_the_round_trip_through_bytes() {
        let (m, ids, groups) = planted();
        let model = TasteModel::fit(&m, &ids, &groups, &ModelParams::default()).unwrap();
        let back = TasteModel::from_bytes(&model.to_bytes().unwrap()).unwrap();
        assert_eq!(back.item_factors, model.item_factors);
        assert_eq!(back.priors, model.priors);
        assert_eq!(back.item(1010), model.item(1010));
        assert!(back.item(1010).is_some());
        assert!(TasteModel::from_bytes(b"not a model").is_err());
        let mut truncated = model.to_bytes().unwrap();
        truncated.truncate(truncated.len() / 2);
        assert!(TasteModel::from_bytes(&truncated).is_err());
    }

    #[test]
    fn an_empty_matrix_is_refused() {
        let m = InteractionMatrix::from_triplets(3, 3, []);
        assert!(matches!(
            TasteModel::fit(
                &m,
                &[1, 2, 3],
                &[vec![], vec![], vec![]],
                &ModelParams::default()
            ),
            Err(EmbeddingError::Degenerate(_))
        ));
    }
}
