use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Tensor, s};
use dataset::HubOptions;
use models::gpt2::position_ids;
use models::weights::ids_tensor;
use models::{Gpt2Input, Gpt2WithValueHead, ModelFiles, ValueHeadInit};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn time<T>(name: &str, f: impl Fn() -> T) {
    f();
    let t = Instant::now();
    for _ in 0..3 {
        f();
    }
    println!("{name}: {:.3}s", t.elapsed().as_secs_f64() / 3.0);
}

fn main() {
    let plain = Device::flex();
    let files = ModelFiles::resolve(
        "target/reference-models/gpt2-124m",
        "main",
        &HubOptions::from_env(),
    )
    .unwrap();
    let (p, _) = Gpt2WithValueHead::load(&files, ValueHeadInit::Default, &plain).unwrap();
    let g = &p.transformer;
    let (b, t) = (16usize, 24usize);
    let ids: Vec<u32> = (0..b * t).map(|i| (i * 37 % 50000) as u32).collect();
    let mask = vec![1u32; b * t];
    let input = || Gpt2Input {
        input_ids: ids_tensor(&ids, b, t, &plain),
        position_ids: position_ids(&mask, b, t, &vec![0; b], &plain),
        attention_mask: Some(ids_tensor(&mask, b, t, &plain)),
    };
    time("hidden (12 blocks), with mask", || {
        g.forward(input(), None).into_data()
    });
    time("hidden, no mask", || {
        let mut i = input();
        i.attention_mask = None;
        g.forward(i, None).into_data()
    });
    let h: Tensor<3> = Tensor::random([b, 17, 768], Distribution::Default, &plain);
    time("lm head (wte h^T)^T window", || {
        g.logits(h.clone()).into_data()
    });
    time("lm head h wte^T", || {
        h.clone()
            .matmul(g.wte.weight.val().transpose().unsqueeze::<3>())
            .into_data()
    });
    time("lm head + log_softmax", || {
        log_softmax(g.logits(h.clone()), 2).into_data()
    });
    let x: Tensor<3> = Tensor::random([b, t, 768], Distribution::Default, &plain);
    let blk = &g.h[0];
    time("c_attn", || blk.attn.c_attn.forward(x.clone()).into_data());
    time("mlp", || blk.mlp.forward(x.clone()).into_data());
    time("c_fc only", || blk.mlp.c_fc.forward(x.clone()).into_data());
    let y: Tensor<3> = Tensor::random([b, t, 3072], Distribution::Default, &plain);
    time("gelu", || {
        burn::tensor::activation::gelu_approximate(y.clone()).into_data()
    });
    time("block", || blk.forward(x.clone(), None, None).into_data());
    time("ln", || blk.ln_1.forward(x.clone()).into_data());
    let _ = s![..];
}
