;; The 1:N distance kernel in WebAssembly SIMD (embedded as bytes in kernel.ts).
;; dist(q, data, rows, dim, out): for each row r, out[r] = sum over j of (q[j] - data[r*dim + j])^2,
;; all as byte offsets into the shared memory; dim must be a multiple of 8.
;; Two f32x4 accumulators per row; four lanes each, summed at the end.
;; Rebuild: wat2wasm --enable-threads kernel.wat (wabt 1.0.39), then base64 the .wasm into kernel.ts.
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "dist") (param $q i32) (param $data i32) (param $rows i32) (param $dim i32) (param $out i32)
    (local $r i32) (local $p i32) (local $j i32) (local $bytes i32)
    (local $acc v128) (local $acc2 v128) (local $d v128)
    (local.set $bytes (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $p (local.get $data))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $acc2 (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (loop $inner
          (local.set $d (f32x4.sub (v128.load (i32.add (local.get $q) (local.get $j)))
                                   (v128.load (i32.add (local.get $p) (local.get $j)))))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $d (f32x4.sub (v128.load offset=16 (i32.add (local.get $q) (local.get $j)))
                                   (v128.load offset=16 (i32.add (local.get $p) (local.get $j)))))
          (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $j (i32.add (local.get $j) (i32.const 32)))
          (br_if $inner (i32.lt_u (local.get $j) (local.get $bytes))))
        (local.set $acc (f32x4.add (local.get $acc) (local.get $acc2)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                   (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $p (i32.add (local.get $p) (local.get $bytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))
)
