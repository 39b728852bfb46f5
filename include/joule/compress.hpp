// joule/compress.hpp: making trained models cheaper to run, and measuring
// what they cost per inference. One header per method:
//   compress/inference.hpp   loading any model directory for inference, MACs,
//                            the inference benchmark (joule bench-infer)
//   compress/quantize.hpp    int8 post-training quantization, QAT
//   compress/prune.hpp       magnitude pruning, structured and unstructured
//   compress/distill.hpp     knowledge distillation
//   compress/early_exit.hpp  models with early exits
#pragma once

#include "joule/compress/distill.hpp"
#include "joule/compress/early_exit.hpp"
#include "joule/compress/inference.hpp"
#include "joule/compress/prune.hpp"
#include "joule/compress/quantize.hpp"
