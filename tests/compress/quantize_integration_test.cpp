// int8 quantization of a trained MNIST MLP (784-256-128-10, ReLU): the
// accuracy promise of PTQ, and a QAT smoke check. Labelled integration: the
// f32 model trains for a few epochs at one thread.
#include <gtest/gtest.h>

#include <memory>

#include "joule/compress/quantize.hpp"

namespace joule {
namespace {

// The acceptance line: int8 PTQ costs at most 0.3 accuracy points.
constexpr double kMaxDropPoints = 0.3;

class MnistQuantize : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SetNumThreads(1);
    data_ = new PreparedData(PrepareData("mnist", "", "classification", 1));
    Rng rng(1);
    model_ = new Sequential(MakeModel("mlp", data_->train.x.shape(), 10, rng));
    std::unique_ptr<Loss> loss = MakeSoftmaxCrossEntropy();
    std::unique_ptr<Optimizer> sgd = MakeOptimizer({.kind = "sgd", .lr = 0.05});
    FitOptions fo;
    fo.epochs = 3;
    Fit(*model_, *loss, *sgd, *data_, fo);
    f32_accuracy_ = Accuracy(*model_);
  }
  static void TearDownTestSuite() {
    delete model_;
    delete data_;
  }
  static double Accuracy(Sequential& m) {
    std::unique_ptr<Loss> loss = MakeSoftmaxCrossEntropy();
    return Evaluate(m, *loss, data_->eval, data_->target_scaler).accuracy;
  }

  static PreparedData* data_;
  static Sequential* model_;
  static double f32_accuracy_;
};

PreparedData* MnistQuantize::data_ = nullptr;
Sequential* MnistQuantize::model_ = nullptr;
double MnistQuantize::f32_accuracy_ = 0;

TEST_F(MnistQuantize, PtqDropsAtMostPointThreePoints) {
  ASSERT_GT(f32_accuracy_, 0.96);  // a trained model, or the drop means nothing
  for (const char* method : {"minmax", "percentile", "mse"}) {
    Sequential int8 = QuantizeModel(*model_, data_->train, {.calibration = method});
    const double drop = 100 * (f32_accuracy_ - Accuracy(int8));
    EXPECT_LE(drop, kMaxDropPoints) << method << ": f32 " << 100 * f32_accuracy_;
    RecordProperty(std::string("drop_points_") + method, std::to_string(drop));
  }
}

TEST_F(MnistQuantize, QatKeepsTheAccuracy) {
  Sequential qat = PrepareQat(*model_, data_->train, {});
  // One short epoch on 10000 rows: a smoke check that fake quantization and
  // the straight-through gradients train rather than wreck the model.
  PreparedData small;
  std::vector<std::int64_t> rows(10000);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  small.train = Subset(data_->train, rows);
  small.eval = data_->eval;
  small.eval_name = "test";
  std::unique_ptr<Loss> loss = MakeSoftmaxCrossEntropy();
  std::unique_ptr<Optimizer> sgd = MakeOptimizer({.kind = "sgd", .lr = 0.005});
  FitOptions fo;
  fo.epochs = 1;
  Fit(qat, *loss, *sgd, small, fo);
  Sequential int8 = ConvertQat(qat);
  EXPECT_GE(Accuracy(int8), f32_accuracy_ - 0.01);
}

}  // namespace
}  // namespace joule
