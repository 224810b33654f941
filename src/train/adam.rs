//! Adam with global gradient-norm clipping, whose moments can be saved and restored exactly
//! (candle's own optimiser keeps them private, which would make `--resume` inexact).

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use std::collections::HashMap;

pub const BETA1: f64 = 0.9;
pub const BETA2: f64 = 0.999;
pub const EPSILON: f64 = 1e-8;

pub struct Adam {
    /// Parameters by name, in a fixed (sorted) order.
    params: Vec<(String, Var)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    /// Updates applied so far (for the bias correction).
    pub steps: u64,
}

impl Adam {
    pub fn new(params: HashMap<String, Var>) -> Result<Self> {
        let mut params: Vec<(String, Var)> = params.into_iter().collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        Ok(Self {
            first: params
                .iter()
                .map(|(_, v)| zeros(v))
                .collect::<Result<_>>()?,
            second: params
                .iter()
                .map(|(_, v)| zeros(v))
                .collect::<Result<_>>()?,
            params,
            steps: 0,
        })
    }

    /// The gradients' global L2 norm.
    pub fn gradient_norm(&self, grads: &GradStore) -> Result<f64> {
        let mut sum = 0.0;
        for (_, var) in &self.params {
            if let Some(g) = grads.get(var.as_tensor()) {
                sum += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            }
        }
        Ok(sum.sqrt())
    }

    /// One update at learning rate `lr`, the gradients scaled down first so their global norm is
    /// at most `clip_norm` (when positive). Returns the norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip_norm: f64) -> Result<f64> {
        let norm = self.gradient_norm(grads)?;
        let scale = if clip_norm > 0.0 && norm > clip_norm {
            clip_norm / norm
        } else {
            1.0
        };
        self.steps += 1;
        let t = self.steps as i32;
        let correction1 = 1.0 - BETA1.powi(t);
        let correction2 = 1.0 - BETA2.powi(t);
        for (i, (_, var)) in self.params.iter().enumerate() {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            let grad = (grad * scale)?;
            let m = ((&self.first[i] * BETA1)? + (&grad * (1.0 - BETA1))?)?;
            let v = ((&self.second[i] * BETA2)? + (grad.sqr()? * (1.0 - BETA2))?)?;
            let update = ((&m / correction1)? / ((&v / correction2)?.sqrt()? + EPSILON)?)?;
            var.set(&(var.as_tensor() - (update * lr)?)?)?;
            self.first[i] = m;
            self.second[i] = v;
        }
        Ok(norm)
    }

    /// The moments as named tensors (`adam.m.NAME`, `adam.v.NAME`), for a checkpoint.
    pub fn moments(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.insert(format!("adam.m.{name}"), self.first[i].clone());
            out.insert(format!("adam.v.{name}"), self.second[i].clone());
        }
        out
    }

    /// Restores moments saved by [`Adam::moments`]; every one must be there with its shape.
    pub fn restore(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        steps: u64,
    ) -> std::result::Result<(), String> {
        for (i, (name, var)) in self.params.iter().enumerate() {
            for (prefix, slot) in [
                ("adam.m", &mut self.first[i]),
                ("adam.v", &mut self.second[i]),
            ] {
                let key = format!("{prefix}.{name}");
                let saved = tensors
                    .get(&key)
                    .ok_or_else(|| format!("checkpoint lacks {key}"))?;
                if saved.dims() != var.dims() {
                    return Err(format!(
                        "checkpoint tensor {key} has shape {:?}, the model needs {:?}",
                        saved.dims(),
                        var.dims()
                    ));
                }
                *slot = saved.clone();
            }
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn minimises_a_quadratic_and_clips() {
        let x = Var::new(&[3.0f32, -2.0], &Device::Cpu).unwrap();
        let mut adam = Adam::new(HashMap::from([("x".to_string(), x.clone())])).unwrap();
        for _ in 0..500 {
            let loss = x.as_tensor().sqr().unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            adam.step(&grads, 0.05, 1.0).unwrap();
        }
        let values: Vec<f32> = x.as_tensor().to_vec1().unwrap();
        assert!(values.iter().all(|v| v.abs() < 1e-2), "{values:?}");
        assert_eq!(adam.steps, 500);
        assert_eq!(adam.moments().len(), 2);
    }
}
