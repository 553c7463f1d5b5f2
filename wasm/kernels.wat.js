/**
 * Source of the WebAssembly SIMD kernels: a WAT text generator, one module per element type.
 * `npm run build` (scripts/build-wasm.js) assembles kernelsWat("f32") and kernelsWat("f64") with
 * wabt's wat2wasm into dist/wasm/kernels-f32.wasm and kernels-f64.wasm.
 *
 * Layout conventions (all pointers are byte offsets into the module's memory, 16-byte aligned):
 *   a row of H hidden values is HV vectors (Hp = HV × lanes values, the tail padded with 0);
 *   W1 is [D × Hp], W2 is [Hp × Op] (Op = OV × lanes, padded with 0).
 * A batch of images is turned into CSR form first (only the non-zero pixels): row r's entries are
 * starts[r] .. starts[r+1]-1 of `offs` (byte offset of the pixel's W1 row: p × Hp × size) and `vals`
 * (the normalized pixel). Skipping exact zeros changes no value: x·0 adds ±0.
 * Every product accumulates in the reference order (bias, then pixels in ascending order), one
 * IEEE multiply and one add per term in each lane (no fused multiply-add), so it is deterministic.
 */

const TYPES = {
  f32: {
    size: 4, lanes: 4, int: "i32x4", bits: 23, bias: 127, lo: -87, hi: 88,
    ln2hi: "0.693359375", ln2lo: "-2.12194440e-4",
    // Taylor coefficients 1/k!, k = 0..7 (|r| ≤ ln2/2: truncation error < 6e-9 relative)
    poly: 7,
  },
  f64: {
    size: 8, lanes: 2, int: "i64x2", bits: 52, bias: 1023, lo: -708, hi: 709,
    ln2hi: "6.93147180369123816490e-01", ln2lo: "1.90821492927058770002e-10",
    poly: 13, // truncation error < 2e-17 relative
  },
};

function factorialInverse(k) {
  let f = 1;
  for (let i = 2; i <= k; i++) f *= i;
  return (1 / f).toPrecision(17);
}

/** Register blocks, widest first (vectors of accumulators kept in registers across a row's pixels). */
const BLOCKS = (process.env.KERNELS_BLOCKS ?? "7,6,4,1").split(",").map(Number);
const WIDE = Math.max(...BLOCKS);

/** A memory's largest size in 64 KiB pages (4 GiB, wasm32's limit): a shared memory must declare one. */
export const MAX_PAGES = 65536;

export function kernelsWat(type) {
  const t = TYPES[type];
  if (!t) throw new Error(`unknown type ${type}`);
  const T = type; // scalar type
  const V = `${type}x${t.lanes}`; // vector shape
  const S = t.size;

  // exp(x) for a vector on the stack's local $ex (result left on the stack).
  const vexp = (x) => {
    const coeffs = [];
    for (let k = t.poly; k >= 0; k--) coeffs.push(factorialInverse(k));
    // Horner: p = c_n; p = p*r + c_{n-1} ...
    let horner = `(${V}.splat (${T}.const ${coeffs[0]}))`;
    for (let i = 1; i < coeffs.length; i++) {
      horner = `(${V}.add (${V}.mul ${horner} (local.get $er)) (${V}.splat (${T}.const ${coeffs[i]})))`;
    }
    const toInt = type === "f32"
      ? `(i32x4.trunc_sat_f32x4_s (local.get $en))`
      : `(i64x2.extend_low_i32x4_s (i32x4.trunc_sat_f64x2_s_zero (local.get $en)))`;
    return `
      (local.set $ex (${V}.min (${V}.max ${x} (${V}.splat (${T}.const ${t.lo}))) (${V}.splat (${T}.const ${t.hi}))))
      (local.set $en (${V}.nearest (${V}.mul (local.get $ex) (${V}.splat (${T}.const 1.4426950408889634)))))
      (local.set $er (${V}.sub (${V}.sub (local.get $ex) (${V}.mul (local.get $en) (${V}.splat (${T}.const ${t.ln2hi}))))
                               (${V}.mul (local.get $en) (${V}.splat (${T}.const ${t.ln2lo})))))
      (${V}.mul ${horner}
        (${t.int}.shl (${t.int}.add ${toInt} (${t.int}.splat (${type === "f32" ? "i32" : "i64"}.const ${t.bias}))) (i32.const ${t.bits})))`;
  };
  const expLocals = `(local $ex v128) (local $en v128) (local $er v128)`;
  // lane indices 0, 1, … as a vector of the element type
  const IOTA = `(v128.const ${V} ${[...Array(t.lanes).keys()].join(" ")})`;

  // One block of `w` vectors of the hidden layer: acc = bias; acc += v × W1[p]; (σ) store.
  const hiddenBlock = (w) => {
    const accs = [...Array(w).keys()];
    return `
      ;; blocks of ${w} vectors
      (block $hb${w}_done (loop $hb${w}
        (br_if $hb${w}_done (i32.gt_u (i32.add (local.get $jb) (i32.const ${w})) (local.get $HV)))
        (local.set $colOff (i32.shl (local.get $jb) (i32.const 4)))
        (local.set $r (i32.const 0))
        (block $hbr${w}_done (loop $hbr${w}
        (br_if $hbr${w}_done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $s (i32.load (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $e (i32.load offset=4 (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $zrow (i32.add (local.get $Z) (i32.shl (i32.mul (local.get $r) (local.get $HV)) (i32.const 4))))
                ${accs.map((i) => `(local.set $a${i} (v128.load offset=${16 * i} (i32.add (local.get $b) (local.get $colOff))))`).join("\n        ")}
        (local.set $k (local.get $s))
        (block $nz${w}_done (loop $nz${w}
          (br_if $nz${w}_done (i32.ge_u (local.get $k) (local.get $e)))
          (local.set $wp (i32.add (i32.add (local.get $W) (local.get $colOff)) (i32.load (i32.add (local.get $offs) (i32.shl (local.get $k) (i32.const 2))))))
          (local.set $v (v128.load${8 * S}_splat (i32.add (local.get $vals) (i32.shl (local.get $k) (i32.const ${Math.log2(S)})))))
          ${accs.map((i) => `(local.set $a${i} (${V}.add (local.get $a${i}) (${V}.mul (local.get $v) (v128.load offset=${16 * i} (local.get $wp)))))`).join("\n          ")}
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $nz${w})))
        ${accs.map((i) => `(v128.store offset=${16 * i} (i32.add (local.get $zrow) (local.get $colOff))
            (if (result v128) (local.get $act)
              (then (${V}.div (${V}.splat (${T}.const 1)) (${V}.add (${V}.splat (${T}.const 1)) ${vexp(`(${V}.neg (local.get $a${i}))`)})))
              (else (local.get $a${i}))))`).join("\n        ")}
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $hbr${w})))
        (local.set $jb (i32.add (local.get $jb) (i32.const ${w})))
        (br $hb${w})))`;
  };

  // One block of `w` vectors of the input-weight gradient: G[p] += v × dZ[r] for the row's pixels.
  // One block of `w` vectors of the input-weight gradient, pixel by pixel: G[p] += Σ v × dZ[r] over
  // the batch rows r that have pixel p (ascending, from the CSC), accumulated in registers.
  const gradBlock = (w) => {
    const d = [...Array(w).keys()];
    return `
      (block $gb${w}_done (loop $gb${w}
        (br_if $gb${w}_done (i32.gt_u (i32.add (local.get $jb) (i32.const ${w})) (local.get $HV)))
        (local.set $colOff (i32.shl (local.get $jb) (i32.const 4)))
        (local.set $p (i32.const 0))
        (local.set $s (i32.const 0))
        (block $gbp${w}_done (loop $gbp${w}
          (br_if $gbp${w}_done (i32.ge_u (local.get $p) (local.get $D)))
          (local.set $e (i32.load (i32.add (local.get $cs) (i32.shl (local.get $p) (i32.const 2)))))
          (if (i32.lt_u (local.get $s) (local.get $e)) (then
            (local.set $wp (i32.add (i32.add (local.get $G) (local.get $colOff)) (i32.mul (local.get $p) (local.get $rowBytes))))
            ${d.map((i) => `(local.set $a${i} (v128.load offset=${16 * i} (local.get $wp)))`).join(" ")}
            (local.set $k (local.get $s))
            (block $gnz${w}_done (loop $gnz${w}
              (br_if $gnz${w}_done (i32.ge_u (local.get $k) (local.get $e)))
              (local.set $zrow (i32.add (i32.add (local.get $dZ) (local.get $colOff)) (i32.load (i32.add (local.get $crow) (i32.shl (local.get $k) (i32.const 2))))))
              (local.set $v (v128.load${8 * S}_splat (i32.add (local.get $cval) (i32.shl (local.get $k) (i32.const ${Math.log2(S)})))))
              ${d.map((i) => `(local.set $a${i} (${V}.add (local.get $a${i}) (${V}.mul (local.get $v) (v128.load offset=${16 * i} (local.get $zrow)))))`).join(" ")}
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br $gnz${w})))
            ${d.map((i) => `(v128.store offset=${16 * i} (local.get $wp) (local.get $a${i}))`).join(" ")}))
          (local.set $s (local.get $e))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $gbp${w})))
        (local.set $jb (i32.add (local.get $jb) (i32.const ${w})))
        (br $gb${w})))`;
  };

  // The same gradient row by row, adding each term into G in memory: cheaper than the CSC for
  // narrow layers (a few vectors a row), where turning the batch costs more than it saves.
  const gradBlockRmw = (w) => {
    const d = [...Array(w).keys()];
    return `
      (block $gm${w}_done (loop $gm${w}
        (br_if $gm${w}_done (i32.gt_u (i32.add (local.get $jb) (i32.const ${w})) (local.get $HV)))
        (local.set $colOff (i32.shl (local.get $jb) (i32.const 4)))
        (local.set $r (i32.const 0))
        (block $gmr${w}_done (loop $gmr${w}
        (br_if $gmr${w}_done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $s (i32.load (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $e (i32.load offset=4 (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $zrow (i32.add (local.get $dZ) (i32.shl (i32.mul (local.get $r) (local.get $HV)) (i32.const 4))))
                ${d.map((i) => `(local.set $a${i} (v128.load offset=${16 * i} (i32.add (local.get $zrow) (local.get $colOff))))`).join("\n        ")}
        (local.set $k (local.get $s))
        (block $gmz${w}_done (loop $gmz${w}
          (br_if $gmz${w}_done (i32.ge_u (local.get $k) (local.get $e)))
          (local.set $wp (i32.add (i32.add (local.get $G) (local.get $colOff)) (i32.load (i32.add (local.get $offs) (i32.shl (local.get $k) (i32.const 2))))))
          (local.set $v (v128.load${8 * S}_splat (i32.add (local.get $vals) (i32.shl (local.get $k) (i32.const ${Math.log2(S)})))))
          ${d.map((i) => `(v128.store offset=${16 * i} (local.get $wp) (${V}.add (v128.load offset=${16 * i} (local.get $wp)) (${V}.mul (local.get $v) (local.get $a${i}))))`).join("\n          ")}
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $gmz${w})))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $gmr${w})))
        (local.set $jb (i32.add (local.get $jb) (i32.const ${w})))
        (br $gm${w})))`;
  };

  /**
   * The small layers' products, in blocks of `w` output vectors held in registers (locals $a0…):
   * for the block's vectors jb .. jb+w−1 of `cols` (local $jb advances by w),
   *   a_j = init(j) + Σ_{i < count} s_i × M_i[j]   (i ascending, one multiply and one add per term),
   * s_i the scalar at `s0` + i × sStep (broadcast once for all w vectors), M_i the vectors at
   * `m0` + $colOff + i × mStep; then `store(j)` (WAT using $a<j> and $colOff).
   */
  const broadcastBlock = ({ tag, cols, count, s0, sStep, m0, mStep, init, store }) => (w) => {
    const js = [...Array(w).keys()];
    return `
      (block $${tag}${w}_done (loop $${tag}${w}
        (br_if $${tag}${w}_done (i32.gt_u (i32.add (local.get $jb) (i32.const ${w})) ${cols}))
        (local.set $colOff (i32.shl (local.get $jb) (i32.const 4)))
        ${js.map((j) => `(local.set $a${j} ${init(j)})`).join(" ")}
        (local.set $sp ${s0})
        (local.set $mp (i32.add ${m0} (local.get $colOff)))
        (local.set $i (i32.const 0))
        (block $${tag}i${w}_done (loop $${tag}i${w}
          (br_if $${tag}i${w}_done (i32.ge_u (local.get $i) ${count}))
          (local.set $l (v128.load${8 * S}_splat (local.get $sp)))
          ${js.map((j) => `(local.set $a${j} (${V}.add (local.get $a${j}) (${V}.mul (local.get $l) (v128.load offset=${16 * j} (local.get $mp)))))`).join("\n          ")}
          (local.set $sp (i32.add (local.get $sp) ${sStep}))
          (local.set $mp (i32.add (local.get $mp) ${mStep}))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $${tag}i${w})))
        ${js.map(store).join("\n        ")}
        (local.set $jb (i32.add (local.get $jb) (i32.const ${w})))
        (br $${tag}${w})))`;
  };
  const blockLocals = `(local $jb i32) (local $colOff i32) (local $sp i32) (local $mp i32) (local $i i32) (local $l v128)`;
  // a row's logits: A[r] = b2 + Σ_h Z[r,h] W2[h]
  const logitBlock = broadcastBlock({
    tag: "lb", cols: "(local.get $OV)", count: "(local.get $Hp)",
    s0: "(local.get $zrow)", sStep: `(i32.const ${S})`, m0: "(local.get $W2)", mStep: "(local.get $rowBytesO)",
    init: (j) => `(v128.load offset=${16 * j} (i32.add (local.get $b2) (local.get $colOff)))`,
    store: (j) => `(v128.store offset=${16 * j} (i32.add (i32.add (local.get $A) (i32.mul (local.get $r) (local.get $rowBytesO))) (local.get $colOff)) (local.get $a${j}))`,
  });


  /**
   * An element-wise kernel over nv vectors: exported `name` with pointer params `ptrs` (the first is
   * written) and scalar params `scalars` (splatted into locals $<name>v); `body` is the new value of
   * the first array as WAT, with the loaded vectors in locals $<ptr>x; `after` more stores.
   */
  const elementwise = (name, ptrs, scalars, body, after = "", extraLocals = "") => `
  (func (export "${name}") ${ptrs.map((p) => `(param $${p} i32)`).join(" ")} (param $nv i32) ${scalars.map((c) => `(param $${c} ${T})`).join(" ")}
    (local $i i32) (local $o i32) ${ptrs.map((p) => `(local $${p}x v128)`).join(" ")} ${scalars.map((c) => `(local $${c}v v128)`).join(" ")} ${extraLocals}
    ${scalars.map((c) => `(local.set $${c}v (${V}.splat (local.get $${c})))`).join(" ")}
    (block $done (loop $lp
      (br_if $done (i32.ge_u (local.get $i) (local.get $nv)))
      (local.set $o (i32.shl (local.get $i) (i32.const 4)))
      ${ptrs.map((p) => `(local.set $${p}x (v128.load (i32.add (local.get $${p}) (local.get $o))))`).join(" ")}
      (v128.store (i32.add (local.get $${ptrs[0]}) (local.get $o)) ${body})
      ${after}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $lp))))`;
  const zeroG = `(v128.store (i32.add (local.get $G) (local.get $o)) (v128.const i32x4 0 0 0 0))`;
  const vs = (a, b) => `(${V}.sub ${a} ${b})`, va = (a, b) => `(${V}.add ${a} ${b})`, vm = (a, b) => `(${V}.mul ${a} ${b})`;
  const vd = (a, b) => `(${V}.div ${a} ${b})`, vsqrt = (a) => `(${V}.sqrt ${a})`, EPS = `(${V}.splat (${T}.const 1e-7))`;
  const ONE = `(${V}.splat (${T}.const 1))`;
  // the optimizers (src/reference/optimizers.ts, the book's ch06), one IEEE operation at a time in
  // the reference's order; each also zeroes G (the sparse layer accumulates into it)
  const store2 = (p, val) => `(v128.store (i32.add (local.get $${p}) (local.get $o)) ${val})`;
  const optimizerKernels = [
    // p −= lr g
    elementwise("opt_sgd", ["W", "G"], ["lr"], vs("(local.get $Wx)", vm("(local.get $lrv)", "(local.get $Gx)")), zeroG),
    // v = μ v − lr g; p += v
    elementwise("opt_momentum", ["W", "G", "M"], ["lr", "mu"], va("(local.get $Wx)", "(local.get $Mx)"), zeroG,
      "").replace(`(v128.store (i32.add (local.get $W) (local.get $o))`, `(local.set $Mx ${vs(vm("(local.get $muv)", "(local.get $Mx)"), vm("(local.get $lrv)", "(local.get $Gx)"))}) ${store2("M", "(local.get $Mx)")}
      (v128.store (i32.add (local.get $W) (local.get $o))`),
    // v = v μ; v −= lr g; p += (μμ) v; p −= ((1 + μ) lr) g
    elementwise("opt_nesterov", ["W", "G", "M"], ["lr", "mu", "mumu", "c"],
      vs(va("(local.get $Wx)", vm("(local.get $mumuv)", "(local.get $Mx)")), vm("(local.get $cv)", "(local.get $Gx)")), zeroG)
      .replace(`(v128.store (i32.add (local.get $W) (local.get $o))`, `(local.set $Mx ${vs(vm("(local.get $Mx)", "(local.get $muv)"), vm("(local.get $lrv)", "(local.get $Gx)"))}) ${store2("M", "(local.get $Mx)")}
      (v128.store (i32.add (local.get $W) (local.get $o))`),
    // h += g g; p −= (lr g) / (√h + ε)
    elementwise("opt_adagrad", ["W", "G", "M"], ["lr"],
      vs("(local.get $Wx)", vd(vm("(local.get $lrv)", "(local.get $Gx)"), va(vsqrt("(local.get $Mx)"), EPS))), zeroG)
      .replace(`(v128.store (i32.add (local.get $W) (local.get $o))`, `(local.set $Mx ${va("(local.get $Mx)", vm("(local.get $Gx)", "(local.get $Gx)"))}) ${store2("M", "(local.get $Mx)")}
      (v128.store (i32.add (local.get $W) (local.get $o))`),
    // h = h ρ; h += ((1 − ρ) g) g; p −= (lr g) / (√h + ε)
    elementwise("opt_rmsprop", ["W", "G", "M"], ["lr", "rho", "omr"],
      vs("(local.get $Wx)", vd(vm("(local.get $lrv)", "(local.get $Gx)"), va(vsqrt("(local.get $Mx)"), EPS))), zeroG)
      .replace(`(v128.store (i32.add (local.get $W) (local.get $o))`, `(local.set $Mx ${va(vm("(local.get $Mx)", "(local.get $rhov)"), vm(vm("(local.get $omrv)", "(local.get $Gx)"), "(local.get $Gx)"))}) ${store2("M", "(local.get $Mx)")}
      (v128.store (i32.add (local.get $W) (local.get $o))`),
    // m += b1 (g − m); v += b2 (g g − v); p −= (lr_t m) / (√v + ε)   (b1 = 1 − β1, b2 = 1 − β2)
    elementwise("opt_adam", ["W", "G", "M", "Q"], ["lrt", "b1", "b2"],
      vs("(local.get $Wx)", vd(vm("(local.get $lrtv)", "(local.get $Mx)"), va(vsqrt("(local.get $Qx)"), EPS))), zeroG)
      .replace(`(v128.store (i32.add (local.get $W) (local.get $o))`, `(local.set $Mx ${va("(local.get $Mx)", vm("(local.get $b1v)", vs("(local.get $Gx)", "(local.get $Mx)")))}) ${store2("M", "(local.get $Mx)")}
      (local.set $Qx ${va("(local.get $Qx)", vm("(local.get $b2v)", vs(vm("(local.get $Gx)", "(local.get $Gx)"), "(local.get $Qx)")))}) ${store2("Q", "(local.get $Qx)")}
      (v128.store (i32.add (local.get $W) (local.get $o))`),
    // Adadelta (PyTorch's): s = (ρ s) + ((1 − ρ) g) g; Δ = (√(a + ε) / √(s + ε)) g; a = (ρ a) + ((1 − ρ) Δ) Δ;
    // p −= lr Δ   (M: s = square_avg, Q: a = acc_delta, omr = 1 − ρ, ε passed in: 1e−6)
    elementwise("opt_adadelta", ["W", "G", "M", "Q"], ["lr", "rho", "omr", "eps"],
      vs("(local.get $Wx)", vm("(local.get $lrv)", "(local.get $d)")), zeroG, "(local $d v128)")
      .replace(`(v128.store (i32.add (local.get $W) (local.get $o))`, `(local.set $Mx ${va(vm("(local.get $rhov)", "(local.get $Mx)"), vm(vm("(local.get $omrv)", "(local.get $Gx)"), "(local.get $Gx)"))}) ${store2("M", "(local.get $Mx)")}
      (local.set $d ${vm(vd(vsqrt(va("(local.get $Qx)", "(local.get $epsv)")), vsqrt(va("(local.get $Mx)", "(local.get $epsv)"))), "(local.get $Gx)")})
      (local.set $Qx ${va(vm("(local.get $rhov)", "(local.get $Qx)"), vm(vm("(local.get $omrv)", "(local.get $d)"), "(local.get $d)"))}) ${store2("Q", "(local.get $Qx)")}
      (v128.store (i32.add (local.get $W) (local.get $o))`),
    // weight decay's gradient: g += λ w
    elementwise("add_decay", ["G", "W"], ["lambda"], va("(local.get $Gx)", vm("(local.get $lambdav)", "(local.get $Wx)"))),
  ].join("\n");
  const activationKernels = [
    // σ in place (the polynomial exp of the float32 step; float64 keeps the reference's Math.exp)
    elementwise("sigmoid", ["Z"], [], vd(ONE, va(ONE, vexp(`(${V}.neg (local.get $Zx))`))), "", expLocals),
    // d ⊙ ((1 − z) z)
    elementwise("sigmoid_bwd", ["D", "Z"], [], vm("(local.get $Dx)", vm(vs(ONE, "(local.get $Zx)"), "(local.get $Zx)"))),
    // z > 0 ? z : 0   (NaN → 0, as the reference)
    elementwise("relu", ["Z"], [], `(v128.and (local.get $Zx) (${V}.gt (local.get $Zx) (v128.const i32x4 0 0 0 0)))`),
    // z > 0 ? d : 0
    elementwise("relu_bwd", ["D", "Z"], [], `(v128.and (local.get $Dx) (${V}.gt (local.get $Zx) (v128.const i32x4 0 0 0 0)))`),
    // d ⊙ (1 − z z)
    elementwise("tanh_bwd", ["D", "Z"], [], vm("(local.get $Dx)", vs(ONE, vm("(local.get $Zx)", "(local.get $Zx)")))),
    // x ⊙ m (dropout, both ways)
    elementwise("mul", ["D", "M"], [], vm("(local.get $Dx)", "(local.get $Mx)")),
  ].join("\n");

  /**
   * gemm: the dense layers' three products in one kernel, in register blocks of 2 output rows × w
   * vectors, walking strips of output columns so that a strip of M stays in cache while the rows use
   * it (within panels of rows and blocks of the sum: GEMM_QB, GEMM_KB below):
   *   Y[q] (yV vectors) = init + Σ_{i < count} s(q, i) × M[i]      (i ascending: the reference's order)
   * with s(q, i) the scalar at S0 + q × qStride + i × iStride, M[i] at M0 + i × mStride, init = B
   * (a vector row), Y[q] itself when B = −2 (accumulate: a product over several calls, e.g. a
   * convolution's dW over chunks of the batch, sums in the same order as one call), else 0. Forward: S = X, M = W. dX: S = dY, M = Wᵀ, no B. dW: q = the
   * input unit h, i = the batch row: S = X by columns (or Xᵀ by rows), M = dY.
   */
  const gemmBlock = (rows, w) => {
    const qs = [...Array(rows).keys()], js = [...Array(w).keys()];
    const acc = (q, j) => `$g${q}_${j}`;
    return `
      (block $gq${rows}${w}_done (loop $gq${rows}${w}
        (br_if $gq${rows}${w}_done (i32.gt_u (i32.add (local.get $q) (i32.const ${rows})) (local.get $nq)))
        ${qs.map((q) => js.map((j) => `(local.set ${acc(q, j)} (if (result v128) (i32.lt_s (local.get $B) (i32.const 0))
          (then (if (result v128) (i32.eq (local.get $B) (i32.const -2))
            (then (v128.load offset=${16 * j} (i32.add (i32.add (local.get $Y) (i32.mul (i32.add (local.get $q) (i32.const ${q})) (local.get $yStride))) (local.get $colOff))))
            (else (v128.const i32x4 0 0 0 0))))
          (else (v128.load offset=${16 * j} (i32.add (local.get $B) (local.get $colOff))))))`).join(" ")).join("\n        ")}
        (local.set $sp (i32.add (local.get $S0) (i32.mul (local.get $q) (local.get $qStride))))
        (local.set $mp (i32.add (local.get $M0) (local.get $colOff)))
        (local.set $i (i32.const 0))
        (block $gi${rows}${w}_done (loop $gi${rows}${w}
          (br_if $gi${rows}${w}_done (i32.ge_u (local.get $i) (local.get $count)))
          ${js.map((j) => `(local.set $m${j} (v128.load offset=${16 * j} (local.get $mp)))`).join(" ")}
          ${qs.map((q) => `(local.set $l (v128.load${8 * S}_splat ${q === 0 ? "(local.get $sp)" : `(i32.add (local.get $sp) (i32.mul (local.get $qStride) (i32.const ${q})))`}))
          ${js.map((j) => `(local.set ${acc(q, j)} (${V}.add (local.get ${acc(q, j)}) (${V}.mul (local.get $l) (local.get $m${j}))))`).join(" ")}`).join("\n          ")}
          (local.set $sp (i32.add (local.get $sp) (local.get $iStride)))
          (local.set $mp (i32.add (local.get $mp) (local.get $mStride)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $gi${rows}${w})))
        ${qs.map((q) => js.map((j) => `(v128.store offset=${16 * j} (i32.add (i32.add (local.get $Y) (i32.mul (i32.add (local.get $q) (i32.const ${q})) (local.get $yStride))) (local.get $colOff)) (local.get ${acc(q, j)}))`).join(" ")).join("\n        ")}
        (local.set $q (i32.add (local.get $q) (i32.const ${rows})))
        (br $gq${rows}${w})))`;
  };
  const GEMM_W = [4, 3, 2, 1];
  const gemmLocals = [
    ...[0, 1].flatMap((q) => GEMM_W.length ? [...Array(4).keys()].map((j) => `(local $g${q}_${j} v128)`) : []),
    ...[...Array(4).keys()].map((j) => `(local $m${j} v128)`),
  ].join(" ");
  // transpose_w2's block: rows r_i = W[h + i, o …] → WT[o + j, h …] = (r_0[j], r_1[j], …)
  const lo32 = "0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23", hi32 = "8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31";
  const lo64 = "0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23", hi64 = "8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31";
  const rowAt = (i, base, stride) => (i === 0 ? `(local.get ${base})` : `(i32.add (local.get ${base}) (i32.mul (local.get ${stride}) (i32.const ${i})))`);
  const rowsIn = [...Array(t.lanes).keys()].map((i) => `(local.set $r${i} (v128.load ${rowAt(i, "$src", "$rowW")}))`).join(" ");
  const shuffle = (bytes, x, y) => `(i8x16.shuffle ${bytes} (local.get ${x}) (local.get ${y}))`;
  const columns = t.lanes === 4
    ? // pairs of rows interleaved (t0 = r0_0 r1_0 r0_1 r1_1, …), then their 64-bit halves
      [`(local.set $t0 ${shuffle(lo32, "$r0", "$r1")}) (local.set $t1 ${shuffle(hi32, "$r0", "$r1")})`,
        `(local.set $t2 ${shuffle(lo32, "$r2", "$r3")}) (local.set $t3 ${shuffle(hi32, "$r2", "$r3")})`,
        [shuffle(lo64, "$t0", "$t2"), shuffle(hi64, "$t0", "$t2"), shuffle(lo64, "$t1", "$t3"), shuffle(hi64, "$t1", "$t3")]]
    : ["", "", [shuffle(lo64, "$r0", "$r1"), shuffle(hi64, "$r0", "$r1")]];
  const transposeBlock = `${rowsIn}
          ${columns[0]} ${columns[1]}
          ${columns[2].map((c, j) => `(v128.store ${rowAt(j, "$dst", "$rowT")} ${c})`).join(" ")}`;
  const transposeLocals = [...Array(t.lanes).keys()].map((i) => `(local $r${i} v128) (local $t${i} v128)`).join(" ");

  // gemm works on panels of GEMM_QB output rows, and walks each sum in blocks of ≈ GEMM_KB terms (the
  // count cut evenly), a block's partial sums kept in Y for the next (the accumulate mode): the same
  // additions in the same order for every output value, but what a column strip reuses stays in
  // cache. A block's strip of M (GEMM_KB × 4 vectors, 16 KiB) stays in L1 while the panel's rows
  // use it, where a strip of a whole 1024-row M spilled to L2 (100 × 1024 by 1024 × 1024: 12.4 →
  // 8.3 ms with both); the panel of S (128 rows) stays in L2 while every strip reads it, where a
  // convolution's whole col was read from memory once per strip (14,400 windows × 288 by 288 × 64:
  // 36 → 20 ms).
  const GEMM_KB = 256;
  const GEMM_QB = 128;
  const gemmFunc = `
  (func (export "gemm") (param $S0 i32) (param $qStride i32) (param $iStride i32) (param $nq i32) (param $count i32)
        (param $M0 i32) (param $mStride i32) (param $yV i32) (param $B i32) (param $Y i32) (param $yStride i32)
    (local $k0 i32) (local $n i32) (local $kb i32) (local $q0 i32) (local $nb i32)
    ;; kb = ⌈count / ⌈count / GEMM_KB⌉⌉ (1 when count = 0: one call, which only sets Y to its init)
    (local.set $kb (i32.div_u (i32.add (local.get $count) (i32.const ${GEMM_KB - 1})) (i32.const ${GEMM_KB})))
    (local.set $kb (select (local.get $kb) (i32.const 1) (local.get $kb)))
    (local.set $kb (i32.div_u (i32.add (local.get $count) (i32.sub (local.get $kb) (i32.const 1))) (local.get $kb)))
    (local.set $kb (select (local.get $kb) (i32.const 1) (local.get $kb)))
    (loop $ql
      (local.set $nb (select (i32.const ${GEMM_QB}) (i32.sub (local.get $nq) (local.get $q0)) (i32.lt_u (i32.const ${GEMM_QB}) (i32.sub (local.get $nq) (local.get $q0)))))
      (local.set $k0 (i32.const 0))
      (loop $kl
        (local.set $n (select (local.get $kb) (i32.sub (local.get $count) (local.get $k0)) (i32.lt_u (local.get $kb) (i32.sub (local.get $count) (local.get $k0)))))
        (call $gemmTerms (i32.add (i32.add (local.get $S0) (i32.mul (local.get $q0) (local.get $qStride))) (i32.mul (local.get $k0) (local.get $iStride))) (local.get $qStride) (local.get $iStride) (local.get $nb) (local.get $n)
          (i32.add (local.get $M0) (i32.mul (local.get $k0) (local.get $mStride))) (local.get $mStride) (local.get $yV)
          (select (local.get $B) (i32.const -2) (i32.eqz (local.get $k0))) (i32.add (local.get $Y) (i32.mul (local.get $q0) (local.get $yStride))) (local.get $yStride))
        (local.set $k0 (i32.add (local.get $k0) (local.get $n)))
        (br_if $kl (i32.lt_u (local.get $k0) (local.get $count))))
      (local.set $q0 (i32.add (local.get $q0) (local.get $nb)))
      (br_if $ql (i32.lt_u (local.get $q0) (local.get $nq)))))
  (func $gemmTerms (param $S0 i32) (param $qStride i32) (param $iStride i32) (param $nq i32) (param $count i32)
        (param $M0 i32) (param $mStride i32) (param $yV i32) (param $B i32) (param $Y i32) (param $yStride i32)
    (local $jb i32) (local $colOff i32) (local $q i32) (local $i i32) (local $sp i32) (local $mp i32) (local $l v128) ${gemmLocals}
    ${GEMM_W.map((w) => `
    ;; column blocks of ${w} vectors
    (block $gj${w}_done (loop $gj${w}
      (br_if $gj${w}_done (i32.gt_u (i32.add (local.get $jb) (i32.const ${w})) (local.get $yV)))
      (local.set $colOff (i32.shl (local.get $jb) (i32.const 4)))
      (local.set $q (i32.const 0))
      ${gemmBlock(2, w)}
      ${gemmBlock(1, w)}
      (local.set $jb (i32.add (local.get $jb) (i32.const ${w})))
      (br $gj${w})))`).join("")})`;

  /**
   * The image kernels (src/engine/conv.ts), on samples kept channels last [H × W × Cs], rows of a
   * sample `inRow` bytes apart. Scalar loops: they move values, the products are gemm's.
   *   im2col:  col row (n, oh, ow), values (fy, fx, c) = x[n, oh·s + fy − pad, ow·s + fx − pad, c] (0 outside)
   *   col2im:  its adjoint (dx zeroed first, then every window added back in window order)
   *   maxpool: y[n, oh, ow, c] = the first largest over its window (0 outside), arg = where (value index, −1 outside)
   *   maxpool_bwd: dx zeroed, dx[n, arg] += dy
   */
  const lg = Math.log2(S);
  const windowLoops = (body) => `
    (local.set $n (i32.const 0))
    (block $n_done (loop $nl
      (br_if $n_done (i32.ge_u (local.get $n) (local.get $m)))
      (local.set $oh (i32.const 0))
      (block $oh_done (loop $ohl
        (br_if $oh_done (i32.ge_u (local.get $oh) (local.get $OH)))
        (local.set $ow (i32.const 0))
        (block $ow_done (loop $owl
          (br_if $ow_done (i32.ge_u (local.get $ow) (local.get $OW)))
          (local.set $fy (i32.const 0))
          (block $fy_done (loop $fyl
            (br_if $fy_done (i32.ge_u (local.get $fy) (local.get $FH)))
            (local.set $y (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $stride)) (local.get $fy)) (local.get $pad)))
            (if (i32.and (i32.ge_s (local.get $y) (i32.const 0)) (i32.lt_s (local.get $y) (local.get $H))) (then
              (local.set $x0 (i32.sub (i32.mul (local.get $ow) (local.get $stride)) (local.get $pad)))
              ;; lo = max(0, −x0), hi = min(FW, W − x0)
              (local.set $lo (select (i32.sub (i32.const 0) (local.get $x0)) (i32.const 0) (i32.lt_s (local.get $x0) (i32.const 0))))
              (local.set $hi (select (local.get $FW) (i32.sub (local.get $W) (local.get $x0)) (i32.le_s (local.get $FW) (i32.sub (local.get $W) (local.get $x0)))))
              (if (i32.gt_s (local.get $hi) (local.get $lo)) (then
                ;; xp: the first pixel's bytes in x; cp: in the window row
                (local.set $xp (i32.add (i32.add (local.get $X) (i32.mul (local.get $n) (local.get $inRow)))
                  (i32.shl (i32.mul (i32.add (i32.mul (local.get $y) (local.get $W)) (i32.add (local.get $x0) (local.get $lo))) (local.get $Cs)) (i32.const ${lg}))))
                (local.set $cp (i32.add (local.get $row) (i32.shl (i32.mul (i32.add (i32.mul (local.get $fy) (local.get $FW)) (local.get $lo)) (local.get $Cs)) (i32.const ${lg}))))
                (local.set $len (i32.shl (i32.mul (i32.sub (local.get $hi) (local.get $lo)) (local.get $Cs)) (i32.const ${lg})))
                ${body}))))
            (local.set $fy (i32.add (local.get $fy) (i32.const 1)))
            (br $fyl)))
          (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
          (br $owl)))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br $ohl)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl)))`;
  const imageParams = `(param $X i32) (param $inRow i32) (param $m i32) (param $H i32) (param $W i32) (param $Cs i32)
        (param $FH i32) (param $FW i32) (param $stride i32) (param $pad i32) (param $OH i32) (param $OW i32) (param $col i32) (param $rowBytes i32)`;
  const imageLocals = `(local $n i32) (local $oh i32) (local $ow i32) (local $fy i32) (local $y i32) (local $x0 i32) (local $lo i32) (local $hi i32)
        (local $xp i32) (local $cp i32) (local $len i32) (local $row i32) (local $e i32)`;
  const imageKernels = `
  (func (export "im2col") ${imageParams} ${imageLocals}
    (memory.fill (local.get $col) (i32.const 0) (i32.mul (i32.mul (i32.mul (local.get $m) (local.get $OH)) (local.get $OW)) (local.get $rowBytes)))
    (local.set $row (local.get $col))
    ${windowLoops(`(memory.copy (local.get $cp) (local.get $xp) (local.get $len))`)})
  (func (export "col2im") ${imageParams} ${imageLocals}
    (memory.fill (local.get $X) (i32.const 0) (i32.mul (local.get $m) (local.get $inRow)))
    (local.set $row (local.get $col))
    ${windowLoops(`
                (local.set $e (i32.add (local.get $xp) (local.get $len)))
                (block $a_done (loop $al
                  (br_if $a_done (i32.ge_u (local.get $xp) (local.get $e)))
                  (${T}.store (local.get $xp) (${T}.add (${T}.load (local.get $xp)) (${T}.load (local.get $cp))))
                  (local.set $xp (i32.add (local.get $xp) (i32.const ${S})))
                  (local.set $cp (i32.add (local.get $cp) (i32.const ${S})))
                  (br $al)))`)})
  (func (export "maxpool") (param $X i32) (param $inRow i32) (param $m i32) (param $H i32) (param $W i32) (param $Cs i32)
        (param $PH i32) (param $PW i32) (param $stride i32) (param $pad i32) (param $OH i32) (param $OW i32) (param $Y i32) (param $outRow i32) (param $arg i32)
    (local $n i32) (local $oh i32) (local $ow i32) (local $fy i32) (local $fx i32) (local $y i32) (local $x i32) (local $c i32)
    (local $inside i32) (local $first i32) (local $at i32) (local $o i32) (local $v ${T}) (local $xs i32)
    (local $vv v128) (local $atv v128) (local $mask v128) (local $yp i32) (local $ap i32)
    (block $n_done (loop $nl
      (br_if $n_done (i32.ge_u (local.get $n) (local.get $m)))
      (local.set $xs (i32.add (local.get $X) (i32.mul (local.get $n) (local.get $inRow))))
      (local.set $oh (i32.const 0))
      (block $oh_done (loop $ohl
        (br_if $oh_done (i32.ge_u (local.get $oh) (local.get $OH)))
        (local.set $ow (i32.const 0))
        (block $ow_done (loop $owl
          (br_if $ow_done (i32.ge_u (local.get $ow) (local.get $OW)))
          ;; o: this output pixel's first value (index in the batch's outputs)
          (local.set $o (i32.add (i32.mul (local.get $n) (i32.shr_u (local.get $outRow) (i32.const ${lg})))
            (i32.mul (i32.add (i32.mul (local.get $oh) (local.get $OW)) (local.get $ow)) (local.get $Cs))))
          (local.set $first (i32.const 1))
          (local.set $fy (i32.const 0))
          (block $fy_done (loop $fyl
            (br_if $fy_done (i32.ge_u (local.get $fy) (local.get $PH)))
            (local.set $y (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $stride)) (local.get $fy)) (local.get $pad)))
            (local.set $fx (i32.const 0))
            (block $fx_done (loop $fxl
              (br_if $fx_done (i32.ge_u (local.get $fx) (local.get $PW)))
              (local.set $x (i32.sub (i32.add (i32.mul (local.get $ow) (local.get $stride)) (local.get $fx)) (local.get $pad)))
              (local.set $inside (i32.and (i32.and (i32.ge_s (local.get $y) (i32.const 0)) (i32.lt_s (local.get $y) (local.get $H)))
                                          (i32.and (i32.ge_s (local.get $x) (i32.const 0)) (i32.lt_s (local.get $x) (local.get $W)))))
              (local.set $at (select (i32.mul (i32.add (i32.mul (local.get $y) (local.get $W)) (local.get $x)) (local.get $Cs)) (i32.const -1) (local.get $inside)))
              (local.set $c (i32.const 0))
              ${type === "f32" ? `
              ;; whole vectors of channels: v > best picks v and its position, lane by lane
              (if (i32.eqz (i32.and (local.get $Cs) (i32.const 3))) (then
                (local.set $atv (i32x4.add (i32x4.splat (local.get $at)) (v128.const i32x4 0 1 2 3)))
                (block $cv_done (loop $cvl
                  (br_if $cv_done (i32.ge_u (local.get $c) (local.get $Cs)))
                  (local.set $vv (if (result v128) (local.get $inside)
                    (then (v128.load (i32.add (local.get $xs) (i32.shl (i32.add (local.get $at) (local.get $c)) (i32.const 2)))))
                    (else (v128.const i32x4 0 0 0 0))))
                  (local.set $yp (i32.add (local.get $Y) (i32.shl (i32.add (local.get $o) (local.get $c)) (i32.const 2))))
                  (local.set $ap (i32.add (local.get $arg) (i32.shl (i32.add (local.get $o) (local.get $c)) (i32.const 2))))
                  (local.set $mask (if (result v128) (local.get $first) (then (v128.const i32x4 -1 -1 -1 -1)) (else (f32x4.gt (local.get $vv) (v128.load (local.get $yp))))))
                  (v128.store (local.get $yp) (v128.bitselect (local.get $vv) (v128.load (local.get $yp)) (local.get $mask)))
                  (v128.store (local.get $ap) (v128.bitselect
                    (if (result v128) (local.get $inside) (then (i32x4.add (local.get $atv) (i32x4.splat (local.get $c)))) (else (v128.const i32x4 -1 -1 -1 -1)))
                    (v128.load (local.get $ap)) (local.get $mask)))
                  (local.set $c (i32.add (local.get $c) (i32.const 4)))
                  (br $cvl)))))` : ""}
              (block $c_done (loop $cl
                (br_if $c_done (i32.ge_u (local.get $c) (local.get $Cs)))
                (local.set $v (if (result ${T}) (local.get $inside)
                  (then (${T}.load (i32.add (local.get $xs) (i32.shl (i32.add (local.get $at) (local.get $c)) (i32.const ${lg})))))
                  (else (${T}.const 0))))
                (if (i32.or (local.get $first) (${T}.gt (local.get $v) (${T}.load (i32.add (local.get $Y) (i32.shl (i32.add (local.get $o) (local.get $c)) (i32.const ${lg}))))))
                  (then
                    (${T}.store (i32.add (local.get $Y) (i32.shl (i32.add (local.get $o) (local.get $c)) (i32.const ${lg}))) (local.get $v))
                    (i32.store (i32.add (local.get $arg) (i32.shl (i32.add (local.get $o) (local.get $c)) (i32.const 2)))
                      (select (i32.add (local.get $at) (local.get $c)) (i32.const -1) (local.get $inside)))))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $cl)))
              (local.set $first (i32.const 0))
              (local.set $fx (i32.add (local.get $fx) (i32.const 1)))
              (br $fxl)))
            (local.set $fy (i32.add (local.get $fy) (i32.const 1)))
            (br $fyl)))
          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
          (br $owl)))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br $ohl)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))
  (func (export "maxpool_bwd") (param $dY i32) (param $outRow i32) (param $m i32) (param $used i32) (param $dX i32) (param $inRow i32) (param $arg i32)
    (local $n i32) (local $o i32) (local $a i32) (local $p i32) (local $ob i32) (local $xs i32)
    (memory.fill (local.get $dX) (i32.const 0) (i32.mul (local.get $m) (local.get $inRow)))
    (block $n_done (loop $nl
      (br_if $n_done (i32.ge_u (local.get $n) (local.get $m)))
      (local.set $ob (i32.mul (local.get $n) (i32.shr_u (local.get $outRow) (i32.const ${lg}))))
      (local.set $xs (i32.add (local.get $dX) (i32.mul (local.get $n) (local.get $inRow))))
      (local.set $o (i32.const 0))
      (block $o_done (loop $ol
        (br_if $o_done (i32.ge_u (local.get $o) (local.get $used)))
        (local.set $a (i32.load (i32.add (local.get $arg) (i32.shl (i32.add (local.get $ob) (local.get $o)) (i32.const 2)))))
        (if (i32.ge_s (local.get $a) (i32.const 0)) (then
          (local.set $p (i32.add (local.get $xs) (i32.shl (local.get $a) (i32.const ${lg}))))
          (${T}.store (local.get $p) (${T}.add (${T}.load (local.get $p))
            (${T}.load (i32.add (local.get $dY) (i32.shl (i32.add (local.get $ob) (local.get $o)) (i32.const ${lg}))))))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $ol)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nl))))`;

  // One xoshiro128** word into $x, the state $s0..$s3 advanced (src/book/rng.ts: nextUint32)
  const xoshiroWord = `(local.set $x (i32.mul (i32.rotl (i32.mul (local.get $s1) (i32.const 5)) (i32.const 7)) (i32.const 9)))
      (local.set $t (i32.shl (local.get $s1) (i32.const 9)))
      (local.set $s2 (i32.xor (local.get $s2) (local.get $s0)))
      (local.set $s3 (i32.xor (local.get $s3) (local.get $s1)))
      (local.set $s1 (i32.xor (local.get $s1) (local.get $s2)))
      (local.set $s0 (i32.xor (local.get $s0) (local.get $s3)))
      (local.set $s2 (i32.xor (local.get $s2) (local.get $t)))
      (local.set $s3 (i32.rotl (local.get $s3) (i32.const 11)))`;
  const accLocals = [...Array(WIDE).keys()].map((i) => `(local $a${i} v128)`).join(" ");

  return `(module
  ;; shared, so that the worker pool's threads can run kernels on a network's memory (src/engine/split.ts)
  (import "env" "memory" (memory $mem 1 ${MAX_PAGES} shared))
  (export "memory" (memory $mem))

  ;; CSR of n rows of D pixel bytes at $img: rows 0..n-1 when $idx < 0, else rows idx[0..n-1] (i32).
  ;; Entry: offs = p × rowBytes, vals = table[byte].
  ;; starts[0..n] are entry indices. Returns the number of entries. 16-byte all-zero runs are skipped.
  (func (export "csr") (param $img i32) (param $idx i32) (param $n i32) (param $D i32) (param $rowBytes i32) (param $table i32)
        (param $starts i32) (param $offs i32) (param $vals i32) (result i32)
    (local $r i32) (local $p i32) (local $row i32) (local $cnt i32) (local $byte i32) (local $end16 i32) (local $q i32) (local $mask i32)
    (local.set $end16 (i32.and (local.get $D) (i32.const -16)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n)))
      (i32.store (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2))) (local.get $cnt))
      (local.set $row (i32.add (local.get $img) (i32.mul
        (if (result i32) (i32.lt_s (local.get $idx) (i32.const 0))
          (then (local.get $r))
          (else (i32.load (i32.add (local.get $idx) (i32.shl (local.get $r) (i32.const 2))))))
        (local.get $D))))
      (local.set $p (i32.const 0))
      (block $chunks_done (loop $chunks
        (br_if $chunks_done (i32.ge_u (local.get $p) (local.get $end16)))
        (if (v128.any_true (v128.load align=1 (i32.add (local.get $row) (local.get $p))))
          (then
            ;; visit only the non-zero bytes of the chunk: lowest set bit of the zero-test mask first
            (local.set $mask (i8x16.bitmask (i8x16.ne (v128.load align=1 (i32.add (local.get $row) (local.get $p))) (v128.const i32x4 0 0 0 0))))
            (block $in_done (loop $in
              (br_if $in_done (i32.eqz (local.get $mask)))
              (local.set $q (i32.add (local.get $p) (i32.ctz (local.get $mask))))
              (local.set $byte (i32.load8_u (i32.add (local.get $row) (local.get $q))))
              (i32.store (i32.add (local.get $offs) (i32.shl (local.get $cnt) (i32.const 2))) (i32.mul (local.get $q) (local.get $rowBytes)))
              (${T}.store (i32.add (local.get $vals) (i32.shl (local.get $cnt) (i32.const ${Math.log2(S)})))
                (${T}.load (i32.add (local.get $table) (i32.shl (local.get $byte) (i32.const ${Math.log2(S)})))))
              (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))
              (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
              (br $in)))
            (local.set $p (i32.add (local.get $p) (i32.const 16))))
          (else (local.set $p (i32.add (local.get $p) (i32.const 16)))))
        (br $chunks)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $D)))
        (local.set $byte (i32.load8_u (i32.add (local.get $row) (local.get $p))))
        (if (local.get $byte) (then
          (i32.store (i32.add (local.get $offs) (i32.shl (local.get $cnt) (i32.const 2))) (i32.mul (local.get $p) (local.get $rowBytes)))
          (${T}.store (i32.add (local.get $vals) (i32.shl (local.get $cnt) (i32.const ${Math.log2(S)})))
            (${T}.load (i32.add (local.get $table) (i32.shl (local.get $byte) (i32.const ${Math.log2(S)})))))
          (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tail)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows)))
    (i32.store (i32.add (local.get $starts) (i32.shl (local.get $n) (i32.const 2))) (local.get $cnt))
    (local.get $cnt))

  ;; Packed sparse images, made once per split so that no batch or evaluation chunk scans pixels
  ;; again: n rows of D pixel bytes at $img → one i32 per non-zero pixel, (p << 8) | byte, pixels
  ;; ascending, at $ent; row r's entries are starts[r] .. starts[r+1]-1, numbered from $base.
  ;; Returns the number of entries. Same scan as csr (16-byte all-zero runs skipped).
  (func (export "pack") (param $img i32) (param $n i32) (param $D i32) (param $starts i32) (param $ent i32) (param $base i32) (result i32)
    (local $r i32) (local $p i32) (local $row i32) (local $cnt i32) (local $byte i32) (local $end16 i32) (local $q i32) (local $mask i32)
    (local.set $end16 (i32.and (local.get $D) (i32.const -16)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n)))
      (i32.store (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2))) (i32.add (local.get $base) (local.get $cnt)))
      (local.set $row (i32.add (local.get $img) (i32.mul (local.get $r) (local.get $D))))
      (local.set $p (i32.const 0))
      (block $chunks_done (loop $chunks
        (br_if $chunks_done (i32.ge_u (local.get $p) (local.get $end16)))
        (local.set $mask (i8x16.bitmask (i8x16.ne (v128.load align=1 (i32.add (local.get $row) (local.get $p))) (v128.const i32x4 0 0 0 0))))
        (block $in_done (loop $in
          (br_if $in_done (i32.eqz (local.get $mask)))
          (local.set $q (i32.add (local.get $p) (i32.ctz (local.get $mask))))
          (i32.store (i32.add (local.get $ent) (i32.shl (local.get $cnt) (i32.const 2)))
            (i32.or (i32.shl (local.get $q) (i32.const 8)) (i32.load8_u (i32.add (local.get $row) (local.get $q)))))
          (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))
          (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
          (br $in)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $chunks)))
      (block $tail_done (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $D)))
        (local.set $byte (i32.load8_u (i32.add (local.get $row) (local.get $p))))
        (if (local.get $byte) (then
          (i32.store (i32.add (local.get $ent) (i32.shl (local.get $cnt) (i32.const 2)))
            (i32.or (i32.shl (local.get $p) (i32.const 8)) (local.get $byte)))
          (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tail)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows)))
    (i32.store (i32.add (local.get $starts) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $base) (local.get $cnt)))
    (local.get $cnt))

  ;; The CSR form (as csr makes it) of packed rows: rows idx[0..n-1] (i32) of the packed split
  ;; (pStarts, ent), or rows first .. first+n-1 when $idx < 0. Returns the number of entries.
  (func (export "expand") (param $pStarts i32) (param $ent i32) (param $idx i32) (param $first i32) (param $n i32)
        (param $rowBytes i32) (param $starts i32) (param $offs i32) (param $vals i32) (result i32)
    (local $r i32) (local $row i32) (local $k i32) (local $e i32) (local $cnt i32) (local $c i32) (local $touch i32)
    (local $wv v128) (local $q v128)
    ;; The rows are scattered over tens of MB: first read each row's bounds into starts[2r], [2r+1]
    ;; and then one word per 64-byte line of its entries, in loops whose loads do not depend on each
    ;; other, so the cache misses overlap instead of coming one after another in the copy below.
    (block $b_done (loop $b
      (br_if $b_done (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $row (i32.add (local.get $pStarts) (i32.shl
        (if (result i32) (i32.lt_s (local.get $idx) (i32.const 0))
          (then (i32.add (local.get $first) (local.get $r)))
          (else (i32.load (i32.add (local.get $idx) (i32.shl (local.get $r) (i32.const 2))))))
        (i32.const 2))))
      (i64.store (i32.add (local.get $offs) (i32.shl (local.get $r) (i32.const 3))) (i64.load align=4 (local.get $row)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $b)))
    (local.set $r (i32.const 0))
    (block $t_done (loop $t
      (br_if $t_done (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $k (i32.load (i32.add (local.get $offs) (i32.shl (local.get $r) (i32.const 3)))))
      (local.set $e (i32.load offset=4 (i32.add (local.get $offs) (i32.shl (local.get $r) (i32.const 3)))))
      (block $l_done (loop $l
        (br_if $l_done (i32.ge_u (local.get $k) (local.get $e)))
        (local.set $touch (i32.xor (local.get $touch) (i32.load (i32.add (local.get $ent) (i32.shl (local.get $k) (i32.const 2))))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $l)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $t)))
    ;; (kept so that the touching loads are not optimized away; starts[0] is overwritten below)
    (i32.store (local.get $starts) (local.get $touch))
    (local.set $r (i32.const 0))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n)))
      (i32.store (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2))) (local.get $cnt))
      (local.set $row (i32.add (local.get $pStarts) (i32.shl
        (if (result i32) (i32.lt_s (local.get $idx) (i32.const 0))
          (then (i32.add (local.get $first) (local.get $r)))
          (else (i32.load (i32.add (local.get $idx) (i32.shl (local.get $r) (i32.const 2))))))
        (i32.const 2))))
      (local.set $k (i32.load (local.get $row)))
      (local.set $e (i32.load offset=4 (local.get $row)))
      ;; four entries at a time (up to three past the row's end are read and written, then
      ;; overwritten: the buffers have the room); the value is float32(byte) / 255 in float32,
      ;; exactly PIXEL_SCALE[byte] (float64: that value, widened)
      (local.set $c (local.get $cnt))
      (local.set $cnt (i32.add (local.get $cnt) (i32.sub (local.get $e) (local.get $k))))
      (block $in_done (loop $in
        (br_if $in_done (i32.ge_s (local.get $k) (local.get $e)))
        (local.set $wv (v128.load align=4 (i32.add (local.get $ent) (i32.shl (local.get $k) (i32.const 2)))))
        (v128.store align=4 (i32.add (local.get $offs) (i32.shl (local.get $c) (i32.const 2)))
          (i32x4.mul (i32x4.shr_u (local.get $wv) (i32.const 8)) (i32x4.splat (local.get $rowBytes))))
        (local.set $q (f32x4.div (f32x4.convert_i32x4_u (v128.and (local.get $wv) (v128.const i32x4 255 255 255 255))) (f32x4.splat (f32.const 255))))
        ${T === "f32" ? `(v128.store align=4 (i32.add (local.get $vals) (i32.shl (local.get $c) (i32.const 2))) (local.get $q))` : `(v128.store align=8 (i32.add (local.get $vals) (i32.shl (local.get $c) (i32.const 3))) (f64x2.promote_low_f32x4 (local.get $q)))
        (v128.store offset=16 align=8 (i32.add (local.get $vals) (i32.shl (local.get $c) (i32.const 3)))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))))`}
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $in)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows)))
    (i32.store (i32.add (local.get $starts) (i32.shl (local.get $n) (i32.const 2))) (local.get $cnt))
    (local.get $cnt))

  ;; Z[n × Hp] = act(x · W1 + b) for the CSR rows; act = sigmoid when $act ≠ 0, else identity.
  (func (export "hidden") (param $starts i32) (param $offs i32) (param $vals i32) (param $n i32)
        (param $W i32) (param $b i32) (param $Z i32) (param $HV i32) (param $act i32)
    (local $r i32) (local $s i32) (local $e i32) (local $zrow i32) (local $jb i32) (local $colOff i32) (local $k i32)
    (local $wp i32) (local $v v128) ${accLocals} ${expLocals}
    ;; column blocks outermost: a strip of W stays in cache while every row of the batch uses it
    (local.set $jb (i32.const 0))
    ${BLOCKS.map(hiddenBlock).join("")})

  ;; A[n × Op] = Z · W2 + b2, Z [n × Hp], W2 [Hp × Op] (Op = OV vectors); Hp = HV vectors.
  (func (export "logits") (param $Z i32) (param $n i32) (param $HV i32) (param $W2 i32) (param $b2 i32) (param $A i32) (param $OV i32)
    (local $r i32) (local $Hp i32) (local $zrow i32) (local $rowBytesO i32) ${blockLocals} ${accLocals}
    (local.set $Hp (i32.mul (local.get $HV) (i32.const ${t.lanes})))
    (local.set $rowBytesO (i32.shl (local.get $OV) (i32.const 4)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $zrow (i32.add (local.get $Z) (i32.shl (i32.mul (local.get $r) (local.get $HV)) (i32.const 4))))
      (local.set $jb (i32.const 0))
      ${[4, 3, 2, 1].map(logitBlock).join("")}
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))

  ;; G[D × Hp] += xᵀ · dZ for the CSR rows (G must start at 0; sgd() re-zeroes it).
  ;; G[D × Hp] += xᵀ · dZ for the CSR rows (G must start at 0; sgd() re-zeroes it). The batch is
  ;; first turned by pixel (CSC: cs[p] = end of pixel p's entries, crow = dZ row byte offsets, cval),
  ;; so each row of G is read and written once per column block, its terms summed in registers in
  ;; ascending batch rows: the reference's order for every element.
  ;; by_pixel turns the batch (dZ rows rowBytes apart, as G's); grad_w1 then makes G's column
  ;; vectors [0, HV) from it, so that threads can make disjoint column ranges from one CSC.
  (func (export "by_pixel") (param $starts i32) (param $offs i32) (param $vals i32) (param $n i32)
        (param $D i32) (param $rowBytes i32) (param $cs i32) (param $crow i32) (param $cval i32)
    (local $r i32) (local $s i32) (local $e i32) (local $zrow i32) (local $k i32)
    (local $p i32) (local $q i32) (local $total i32) (local $acc i32)
    ;; counts per pixel, then their running sum: cs[p] = the start of pixel p's entries
    (memory.fill (local.get $cs) (i32.const 0) (i32.shl (i32.add (local.get $D) (i32.const 1)) (i32.const 2)))
    (local.set $total (i32.load (i32.add (local.get $starts) (i32.shl (local.get $n) (i32.const 2)))))
    (block $c_done (loop $c
      (br_if $c_done (i32.ge_u (local.get $k) (local.get $total)))
      (local.set $q (i32.add (local.get $cs) (i32.shl (i32.div_u (i32.load (i32.add (local.get $offs) (i32.shl (local.get $k) (i32.const 2)))) (local.get $rowBytes)) (i32.const 2))))
      (i32.store (local.get $q) (i32.add (i32.load (local.get $q)) (i32.const 1)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $c)))
    (local.set $p (i32.const 0))
    (block $ps_done (loop $ps
      (br_if $ps_done (i32.ge_u (local.get $p) (local.get $D)))
      (local.set $q (i32.add (local.get $cs) (i32.shl (local.get $p) (i32.const 2))))
      (local.set $e (i32.load (local.get $q)))
      (i32.store (local.get $q) (local.get $acc))
      (local.set $acc (i32.add (local.get $acc) (local.get $e)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $ps)))
    ;; scatter the entries, rows ascending; afterwards cs[p] is the end of pixel p's entries
    (block $f_done (loop $f
      (br_if $f_done (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $k (i32.load (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $e (i32.load offset=4 (i32.add (local.get $starts) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $zrow (i32.mul (local.get $r) (local.get $rowBytes)))
      (block $fe_done (loop $fe
        (br_if $fe_done (i32.ge_u (local.get $k) (local.get $e)))
        (local.set $q (i32.add (local.get $cs) (i32.shl (i32.div_u (i32.load (i32.add (local.get $offs) (i32.shl (local.get $k) (i32.const 2)))) (local.get $rowBytes)) (i32.const 2))))
        (local.set $s (i32.load (local.get $q)))
        (i32.store (local.get $q) (i32.add (local.get $s) (i32.const 1)))
        (i32.store (i32.add (local.get $crow) (i32.shl (local.get $s) (i32.const 2))) (local.get $zrow))
        (${T}.store (i32.add (local.get $cval) (i32.shl (local.get $s) (i32.const ${Math.log2(S)})))
          (${T}.load (i32.add (local.get $vals) (i32.shl (local.get $k) (i32.const ${Math.log2(S)})))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $fe)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $f))))

  (func (export "grad_w1") (param $dZ i32) (param $G i32) (param $HV i32) (param $D i32) (param $rowBytes i32)
        (param $cs i32) (param $crow i32) (param $cval i32)
    (local $s i32) (local $e i32) (local $zrow i32) (local $jb i32) (local $colOff i32) (local $k i32)
    (local $wp i32) (local $v v128) (local $p i32) ${accLocals}
    (local.set $jb (i32.const 0))
    ${BLOCKS.map(gradBlock).join("")})

  ;; G[D × Hp] += xᵀ · dZ for the CSR rows, row by row (narrow layers; see grad_w1)
  (func (export "grad_w1_rows") (param $starts i32) (param $offs i32) (param $vals i32) (param $n i32)
        (param $dZ i32) (param $G i32) (param $HV i32)
    (local $r i32) (local $s i32) (local $e i32) (local $zrow i32) (local $jb i32) (local $colOff i32) (local $k i32)
    (local $wp i32) (local $v v128) ${accLocals}
    ;; column blocks outermost (rows ascending within each: the reference's order for every element)
    (local.set $jb (i32.const 0))
    ${BLOCKS.map(gradBlockRmw).join("")})

  ;; W[nv vectors] -= lr × G, then G = 0.
  (func (export "sgd") (param $W i32) (param $G i32) (param $nv i32) (param $lr ${T})
    (local $i i32) (local $l v128) (local $p i32)
    (local.set $l (${V}.splat (local.get $lr)))
    (block $done (loop $lp
      (br_if $done (i32.ge_u (local.get $i) (local.get $nv)))
      (local.set $p (i32.shl (local.get $i) (i32.const 4)))
      (v128.store (i32.add (local.get $W) (local.get $p))
        (${V}.sub (v128.load (i32.add (local.get $W) (local.get $p))) (${V}.mul (local.get $l) (v128.load (i32.add (local.get $G) (local.get $p))))))
      (v128.store (i32.add (local.get $G) (local.get $p)) (v128.const i32x4 0 0 0 0))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $lp))))

  ;; dY = (softmax(A) − onehot(label)) / n, row by row, for the float32 training step (float64
  ;; keeps the reference's Math.exp in TypeScript): A, dY [n × Op], lab [n] (i32 labels).
  ;; The max is taken as the reference does (NaN skipped); lanes ≥ O of dY are 0.
  (func (export "softmax_dy") (param $A i32) (param $n i32) (param $O i32) (param $OV i32) (param $lab i32) (param $dY i32)
    (local $r i32) (local $v i32) (local $o i32) (local $rowA i32) (local $rowY i32) (local $rowBytes i32)
    (local $m ${T}) (local $s ${T}) (local $x ${T})
    (local $M v128) (local $S v128) (local $idx v128) (local $lbl v128) (local $nn v128) (local $Of v128) ${expLocals}
    (local.set $rowBytes (i32.shl (local.get $OV) (i32.const 4)))
    (local.set $nn (${V}.splat (${T}.convert_i32_s (local.get $n))))
    (local.set $Of (${V}.splat (${T}.convert_i32_s (local.get $O))))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $rowA (i32.add (local.get $A) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $rowY (i32.add (local.get $dY) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $m (${T}.const -inf))
      (local.set $o (i32.const 0))
      (block $max_done (loop $max
        (br_if $max_done (i32.ge_u (local.get $o) (local.get $O)))
        (local.set $x (${T}.load (i32.add (local.get $rowA) (i32.shl (local.get $o) (i32.const ${Math.log2(S)})))))
        (if (${T}.gt (local.get $x) (local.get $m)) (then (local.set $m (local.get $x))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $max)))
      (local.set $M (${V}.splat (local.get $m)))
      ;; e = exp(a − max) in lanes < O, 0 beyond
      (local.set $v (i32.const 0))
      (block $e_done (loop $e
        (br_if $e_done (i32.ge_u (local.get $v) (local.get $OV)))
        (local.set $idx (${V}.add ${IOTA} (${V}.splat (${T}.convert_i32_s (i32.mul (local.get $v) (i32.const ${t.lanes}))))))
        (v128.store (i32.add (local.get $rowY) (i32.shl (local.get $v) (i32.const 4)))
          (v128.and ${vexp(`(${V}.sub (v128.load (i32.add (local.get $rowA) (i32.shl (local.get $v) (i32.const 4)))) (local.get $M))`)}
            (${V}.lt (local.get $idx) (local.get $Of))))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $e)))
      (local.set $s (${T}.const 0))
      (local.set $o (i32.const 0))
      (block $sum_done (loop $sum
        (br_if $sum_done (i32.ge_u (local.get $o) (local.get $O)))
        (local.set $s (${T}.add (local.get $s) (${T}.load (i32.add (local.get $rowY) (i32.shl (local.get $o) (i32.const ${Math.log2(S)}))))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $sum)))
      (local.set $S (${V}.splat (local.get $s)))
      (local.set $lbl (${V}.splat (${T}.convert_i32_s (i32.load (i32.add (local.get $lab) (i32.shl (local.get $r) (i32.const 2)))))))
      (local.set $v (i32.const 0))
      (block $y_done (loop $y
        (br_if $y_done (i32.ge_u (local.get $v) (local.get $OV)))
        (local.set $idx (${V}.add ${IOTA} (${V}.splat (${T}.convert_i32_s (i32.mul (local.get $v) (i32.const ${t.lanes}))))))
        (v128.store (i32.add (local.get $rowY) (i32.shl (local.get $v) (i32.const 4)))
          (${V}.div
            (${V}.sub (${V}.div (v128.load (i32.add (local.get $rowY) (i32.shl (local.get $v) (i32.const 4)))) (local.get $S))
                     (v128.and (${V}.eq (local.get $idx) (local.get $lbl)) (${V}.splat (${T}.const 1))))
            (local.get $nn)))
        (local.set $v (i32.add (local.get $v) (i32.const 1)))
        (br $y)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows))))

  ;; WT [O × Hp] = Wᵀ for W [H × Op] (the first H rows / O columns; the padding stays 0, and WT's
  ;; rows ≥ O are not touched). Whole ${t.lanes} × ${t.lanes} blocks by SIMD shuffles, a cache line of WT
  ;; (${64 / S} columns) filled at a time: the scalar copy it replaces, both sides 4 KiB apart on 1024-wide
  ;; rows, missed L1 at every step. The edges that are not whole blocks go by scalars.
  (func $transposeEdge (param $W2 i32) (param $W2T i32) (param $h0 i32) (param $h1 i32) (param $o0 i32) (param $o1 i32) (param $rowW i32) (param $rowT i32)
    (local $h i32) (local $o i32)
    (local.set $h (local.get $h0))
    (block $h_done (loop $hl
      (br_if $h_done (i32.ge_u (local.get $h) (local.get $h1)))
      (local.set $o (local.get $o0))
      (block $o_done (loop $ol
        (br_if $o_done (i32.ge_u (local.get $o) (local.get $o1)))
        (${T}.store (i32.add (i32.add (local.get $W2T) (i32.mul (local.get $o) (local.get $rowT))) (i32.shl (local.get $h) (i32.const ${Math.log2(S)})))
          (${T}.load (i32.add (i32.add (local.get $W2) (i32.mul (local.get $h) (local.get $rowW))) (i32.shl (local.get $o) (i32.const ${Math.log2(S)})))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $ol)))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $hl))))
  (func $transposeW2 (export "transpose_w2") (param $W2 i32) (param $W2T i32) (param $H i32) (param $HV i32) (param $O i32) (param $OV i32)
    (local $h i32) (local $o i32) (local $h0 i32) (local $he i32) (local $hf i32) (local $of i32) (local $rowW i32) (local $rowT i32) (local $src i32) (local $dst i32)
    ${transposeLocals}
    (local.set $rowW (i32.shl (local.get $OV) (i32.const 4)))
    (local.set $rowT (i32.shl (local.get $HV) (i32.const 4)))
    (local.set $hf (i32.and (local.get $H) (i32.const ${-t.lanes})))
    (local.set $of (i32.and (local.get $O) (i32.const ${-t.lanes})))
    (block $h0_done (loop $h0l
      (br_if $h0_done (i32.ge_u (local.get $h0) (local.get $hf)))
      (local.set $he (select (i32.add (local.get $h0) (i32.const ${64 / S})) (local.get $hf) (i32.lt_u (i32.add (local.get $h0) (i32.const ${64 / S})) (local.get $hf))))
      (local.set $o (i32.const 0))
      (block $o_done (loop $ol
        (br_if $o_done (i32.ge_u (local.get $o) (local.get $of)))
        (local.set $h (local.get $h0))
        (block $h_done (loop $hl
          (br_if $h_done (i32.ge_u (local.get $h) (local.get $he)))
          (local.set $src (i32.add (i32.add (local.get $W2) (i32.mul (local.get $h) (local.get $rowW))) (i32.shl (local.get $o) (i32.const ${Math.log2(S)}))))
          (local.set $dst (i32.add (i32.add (local.get $W2T) (i32.mul (local.get $o) (local.get $rowT))) (i32.shl (local.get $h) (i32.const ${Math.log2(S)}))))
          ${transposeBlock}
          (local.set $h (i32.add (local.get $h) (i32.const ${t.lanes})))
          (br $hl)))
        (local.set $o (i32.add (local.get $o) (i32.const ${t.lanes})))
        (br $ol)))
      (local.set $h0 (i32.add (local.get $h0) (i32.const ${64 / S})))
      (br $h0l)))
    ;; the columns past the last whole block (every row), then the rows past it
    (call $transposeEdge (local.get $W2) (local.get $W2T) (i32.const 0) (local.get $H) (local.get $of) (local.get $O) (local.get $rowW) (local.get $rowT))
    (call $transposeEdge (local.get $W2) (local.get $W2T) (local.get $hf) (local.get $H) (i32.const 0) (local.get $of) (local.get $rowW) (local.get $rowT)))
  ;; out[i] (float64) = the book's Rng.uniform() for i < n, from the xoshiro128** state at $st (four
  ;; u32 words), which is advanced: (first word >>> 5) × 2^26 + (second word >>> 6), over 2^53 (× 2^−53: exact). The
  ;; numbers of as many Rng.uniform() calls, in order, faster than JavaScript draws them (dropout's masks).
  (func (export "uniforms") (param $out i32) (param $n i32) (param $st i32)
    (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $t i32) (local $x i32) (local $hi i32) (local $i i32)
    (local.set $s0 (i32.load (local.get $st)))
    (local.set $s1 (i32.load offset=4 (local.get $st)))
    (local.set $s2 (i32.load offset=8 (local.get $st)))
    (local.set $s3 (i32.load offset=12 (local.get $st)))
    (block $done (loop $lp
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      ${xoshiroWord}
      (local.set $hi (i32.shr_u (local.get $x) (i32.const 5)))
      ${xoshiroWord}
      (f64.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3)))
        (f64.mul (f64.add (f64.mul (f64.convert_i32_u (local.get $hi)) (f64.const 67108864))
                          (f64.convert_i32_u (i32.shr_u (local.get $x) (i32.const 6))))
                 (f64.const 0x1p-53)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $lp)))
    (i32.store (local.get $st) (local.get $s0))
    (i32.store offset=4 (local.get $st) (local.get $s1))
    (i32.store offset=8 (local.get $st) (local.get $s2))
    (i32.store offset=12 (local.get $st) (local.get $s3)))
  ;; Dropout's mask for n rows: M[r, at[j]] = U[r, j] ≥ p ? keep : 0 for the logical units j < units
  ;; (U: float64 uniforms, row by row; at: each unit's stored position, i32; M's rows rowBytes apart).
  (func (export "dropout_mask") (param $U i32) (param $at i32) (param $n i32) (param $units i32) (param $M i32) (param $rowBytes i32)
        (param $p f64) (param $keep ${T})
    (local $r i32) (local $j i32) (local $m i32)
    (block $r_done (loop $rl
      (br_if $r_done (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $m (i32.add (local.get $M) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $j (i32.const 0))
      (block $j_done (loop $jl
        (br_if $j_done (i32.ge_u (local.get $j) (local.get $units)))
        (${T}.store (i32.add (local.get $m) (i32.shl (i32.load (i32.add (local.get $at) (i32.shl (local.get $j) (i32.const 2)))) (i32.const ${Math.log2(S)})))
          (select (local.get $keep) (${T}.const 0) (f64.ge (f64.load (local.get $U)) (local.get $p))))
        (local.set $U (i32.add (local.get $U) (i32.const 8)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jl)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))

  ;; out [V vectors] = Σ_r X[r] for X [n rows, rowBytes apart, of ≥ V vectors] (r ascending): a
  ;; bias gradient. Four vectors (a cache line) a pass down the rows, so that X is read once.
  (func (export "sum_rows") (param $X i32) (param $n i32) (param $V i32) (param $out i32) (param $rowBytes i32)
    (local $v i32) (local $r i32) (local $p i32) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (block $v4_done (loop $v4
      (br_if $v4_done (i32.gt_u (i32.add (local.get $v) (i32.const 4)) (local.get $V)))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $a2 (v128.const i32x4 0 0 0 0))
      (local.set $a3 (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $X) (i32.shl (local.get $v) (i32.const 4))))
      (local.set $r (i32.const 0))
      (block $r4_done (loop $r4
        (br_if $r4_done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $a0 (${V}.add (local.get $a0) (v128.load (local.get $p))))
        (local.set $a1 (${V}.add (local.get $a1) (v128.load offset=16 (local.get $p))))
        (local.set $a2 (${V}.add (local.get $a2) (v128.load offset=32 (local.get $p))))
        (local.set $a3 (${V}.add (local.get $a3) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $r4)))
      (local.set $p (i32.add (local.get $out) (i32.shl (local.get $v) (i32.const 4))))
      (v128.store (local.get $p) (local.get $a0))
      (v128.store offset=16 (local.get $p) (local.get $a1))
      (v128.store offset=32 (local.get $p) (local.get $a2))
      (v128.store offset=48 (local.get $p) (local.get $a3))
      (local.set $v (i32.add (local.get $v) (i32.const 4)))
      (br $v4)))
    (block $v_done (loop $vl
      (br_if $v_done (i32.ge_u (local.get $v) (local.get $V)))
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $X) (i32.shl (local.get $v) (i32.const 4))))
      (local.set $r (i32.const 0))
      (block $r_done (loop $rl
        (br_if $r_done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $a0 (${V}.add (local.get $a0) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $v) (i32.const 4))) (local.get $a0))
      (local.set $v (i32.add (local.get $v) (i32.const 1)))
      (br $vl))))
${imageKernels}
${gemmFunc}
${optimizerKernels}
${activationKernels}
)
`;
}
