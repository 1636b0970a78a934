"""The Tensor surface, one module per family of methods; `tinygrad_lite.tensor.Tensor` gathers
them as mixins (tinygrad's model), so each family stays small and can be read on its own.

- `_core`: `_apply`, the only place a Tensor op node is recorded, and the helpers every family
  shares (turning numbers into constants, checking axes, explaining shape errors).
- `creation`: `tensor`, `zeros`, `ones`, `full`, `eye`, `arange`, `rand`, `randn`, `one_hot`,
  the package's random generator, and the methods that make new tensors (`new_zeros`, ...).
- `elementwise`: arithmetic operators, comparisons, `exp`/`log`/`tanh`/..., `clamp`, `pow`,
  `maximum`/`minimum`/`where`.
- `reductions`: `sum`, `mean`, `var`, `max`/`min` (with indices), `argmax`, `sort`, `topk`,
  `norm`, `logsumexp`, `softmax`.
- `movement`: reshaping, permuting, indexing, joining and splitting, `matmul`.
- `dtype_device`: dtype names, the default dtype, casts (`.float()`, `.to(...)`) and the device
  (this engine runs on numpy: CPU only).

- `inplace`: `add_ sub_ mul_ div_ zero_ fill_ copy_ clamp_ uniform_ normal_`, `+= -= *= /=`,
  `detach_`, `grad_fn`, `_version`, and numpy's in-place operators with a Tensor on the right
  (the version counter itself is `tinygrad_lite/versioning.py`, `grad_fn` objects `grad_fn.py`).

Derivatives never live here: every method calls an op of the table in `ops.py` through
`_apply`. The family modules refer to the final `Tensor` class as a plain module global (as
fast as a local name on the hot path); `tinygrad_lite.tensor` binds it once the class exists
(`_core.bind`), so a family module is used through `tinygrad_lite.tensor`, never on its own.
"""
