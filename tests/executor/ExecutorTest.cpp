// Models and sessions through the C API on a tiny artifact: generated vs reference vs by hand,
// chunking, threads, and the load-time checks of a corrupt plan or kernel library.
#include "CApiHandles.h"
#include "TestArtifact.h"

#include "tern/tern.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace tern::test {
namespace {

TinyModel tinyModel() {
  TinyModel tiny;
  tiny.library = readBytes(TERN_TEST_TINY_KERNELS);
  return tiny;
}

// Writes |tiny| to |file| and opens it.
tern_status_t openTiny(const TinyModel &tiny, const TempFile &file, tern_kernels_t kernels,
                       int threads, tern_model_t **out) {
  file.write(tiny.bytes());
  tern_model_options_t options;
  tern_model_options_init(&options);
  options.kernels = kernels;
  options.num_threads = threads;
  return tern_model_open(file.path().c_str(), &options, out);
}

// Logits of every token of |tokens| evaluated one at a time with tern_session_eval.
std::vector<float> decodeOneByOne(tern_model_t *model, const std::vector<int32_t> &tokens) {
  Session s;
  Status create{tern_session_create(model, nullptr, &s.session)};
  EXPECT_EQ(create.status, nullptr) << create.message();
  std::vector<float> all;
  for (int32_t token : tokens) {
    Status eval{tern_session_eval(s.session, &token, 1)};
    EXPECT_EQ(eval.status, nullptr) << eval.message();
    const float *logits = tern_session_logits(s.session);
    all.insert(all.end(), logits, logits + TinyModel::kVocab);
  }
  return all;
}

const std::vector<int32_t> kPrompt = {3, 15, 0, 7, 7, 12, 1};

TEST(Executor, GeneratedAndReferenceKernelsMatchHandComputedLogits) {
  for (tern_kernels_t kernels : {TERN_KERNELS_GENERATED, TERN_KERNELS_REFERENCE}) {
    TempFile file;
    Model m;
    Status open{openTiny(tinyModel(), file, kernels, 2, &m.model)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    std::vector<float> logits = decodeOneByOne(m.model, kPrompt);
    for (size_t t = 0; t < kPrompt.size(); ++t) {
      std::vector<double> expected = TinyModel::expectedLogits(kPrompt[t]);
      for (int64_t o = 0; o < TinyModel::kVocab; ++o)
        EXPECT_NEAR(logits[t * TinyModel::kVocab + o], expected[o], 1e-5)
            << "kernels " << kernels << " token " << t << " logit " << o;
    }
  }
}

TEST(Executor, ChunkedPrefillMatchesOneByOneDecode) {
  TempFile file;
  Model m;
  Status open{openTiny(tinyModel(), file, TERN_KERNELS_GENERATED, 3, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  std::vector<float> oneByOne = decodeOneByOne(m.model, kPrompt);

  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  EXPECT_EQ(tern_session_logits(s.session), nullptr);
  // 7 tokens with max_rows 4: two chunks, the second ending on the prompt's last token.
  Status eval{tern_session_eval(s.session, kPrompt.data(), kPrompt.size())};
  ASSERT_EQ(eval.status, nullptr) << eval.message();
  EXPECT_EQ(tern_session_position(s.session), int64_t(kPrompt.size()));
  const float *last = tern_session_logits(s.session);
  ASSERT_NE(last, nullptr);
  for (int64_t o = 0; o < TinyModel::kVocab; ++o)
    EXPECT_EQ(last[o], oneByOne[(kPrompt.size() - 1) * TinyModel::kVocab + o]) << o;

  tern_session_reset(s.session);
  EXPECT_EQ(tern_session_position(s.session), 0);
  std::vector<float> all(kPrompt.size() * TinyModel::kVocab, -1.0f);
  Status allEval{tern_session_eval_all_logits(s.session, kPrompt.data(), kPrompt.size(), all.data())};
  ASSERT_EQ(allEval.status, nullptr) << allEval.message();
  EXPECT_EQ(all, oneByOne);
  last = tern_session_logits(s.session);
  EXPECT_EQ(std::vector<float>(last, last + TinyModel::kVocab),
            std::vector<float>(oneByOne.end() - TinyModel::kVocab, oneByOne.end()));
}

TEST(Executor, ThreadCountsGiveIdenticalResults) {
  std::vector<float> first;
  for (tern_kernels_t kernels : {TERN_KERNELS_GENERATED, TERN_KERNELS_REFERENCE})
    for (int threads : {1, 2, 3}) {
      TempFile file;
      Model m;
      Status open{openTiny(tinyModel(), file, kernels, threads, &m.model)};
      ASSERT_EQ(open.status, nullptr) << open.message();
      tern_model_info_t info;
      tern_model_info(m.model, &info);
      EXPECT_EQ(info.num_threads, threads);
      Session s;
      Status create{tern_session_create(m.model, nullptr, &s.session)};
      ASSERT_EQ(create.status, nullptr) << create.message();
      std::vector<float> all(kPrompt.size() * TinyModel::kVocab);
      Status eval{tern_session_eval_all_logits(s.session, kPrompt.data(), kPrompt.size(), all.data())};
      ASSERT_EQ(eval.status, nullptr) << eval.message();
      if (kernels == TERN_KERNELS_GENERATED && threads == 1)
        first = all;
      else if (kernels == TERN_KERNELS_GENERATED)
        EXPECT_EQ(all, first) << threads << " threads";
      else
        for (size_t i = 0; i < all.size(); ++i) // float vs double accumulation
          ASSERT_NEAR(all[i], first[i], 1e-5) << "reference, " << threads << " threads, " << i;
    }
}

TEST(Executor, RejectsPromptPastContextAndBadTokensLeavingSessionUnchanged) {
  TempFile file;
  Model m;
  Status open{openTiny(tinyModel(), file, TERN_KERNELS_GENERATED, 2, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  Status first{tern_session_eval(s.session, kPrompt.data(), 3)};
  ASSERT_EQ(first.status, nullptr) << first.message();
  std::vector<float> before(tern_session_logits(s.session),
                            tern_session_logits(s.session) + TinyModel::kVocab);

  std::vector<int32_t> longPrompt(TinyModel::kContext - 2, 1); // 3 + 6 > 8
  Status tooLong{tern_session_eval(s.session, longPrompt.data(), longPrompt.size())};
  EXPECT_EQ(tooLong.code(), TERN_STATUS_OUT_OF_RANGE);
  EXPECT_TRUE(tooLong.contains("context length 8")) << tooLong.message();

  std::vector<int32_t> bad = {2, 16};
  Status badToken{tern_session_eval(s.session, bad.data(), bad.size())};
  EXPECT_EQ(badToken.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_TRUE(badToken.contains("id 16")) << badToken.message();
  int32_t negative = -1;
  Status negativeToken{tern_session_eval(s.session, &negative, 1)};
  EXPECT_EQ(negativeToken.code(), TERN_STATUS_INVALID_ARGUMENT);

  EXPECT_EQ(tern_session_position(s.session), 3);
  EXPECT_EQ(std::vector<float>(tern_session_logits(s.session),
                               tern_session_logits(s.session) + TinyModel::kVocab),
            before);

  tern_session_options_t options;
  tern_session_options_init(&options);
  options.context_length = 4;
  Session shortSession;
  Status shortCreate{tern_session_create(m.model, &options, &shortSession.session)};
  ASSERT_EQ(shortCreate.status, nullptr) << shortCreate.message();
  Status shortEval{tern_session_eval(shortSession.session, kPrompt.data(), 5)};
  EXPECT_EQ(shortEval.code(), TERN_STATUS_OUT_OF_RANGE) << shortEval.message();
  options.context_length = TinyModel::kContext + 1;
  Session tooBig;
  Status tooBigCreate{tern_session_create(m.model, &options, &tooBig.session)};
  EXPECT_EQ(tooBigCreate.code(), TERN_STATUS_INVALID_ARGUMENT) << tooBigCreate.message();
}

TEST(Executor, RejectsKernelAbiVersionMismatch) {
  TinyModel tiny = tinyModel();
  tiny.abiVersion = TERN_KERNEL_ABI_VERSION + 1;
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, TERN_KERNELS_GENERATED, 1, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_UNIMPLEMENTED);
  EXPECT_TRUE(open.contains("kernel_libraries[0]: field abi_version is 2")) << open.message();
  EXPECT_TRUE(open.contains(file.path())) << open.message();
  EXPECT_EQ(m.model, nullptr);

  // The library itself exports another version than the artifact claims.
  TinyModel lying = tinyModel();
  lying.library = readBytes(TERN_TEST_TINY_KERNELS_ABI99);
  TempFile file2;
  Status open2{openTiny(lying, file2, TERN_KERNELS_GENERATED, 1, &m.model)};
  EXPECT_EQ(open2.code(), TERN_STATUS_UNIMPLEMENTED);
  EXPECT_TRUE(open2.contains("tern_kernel_abi_version is 99")) << open2.message();

  // Reference kernels do not load the library, so its ABI does not matter.
  TempFile file3;
  Status open3{openTiny(tiny, file3, TERN_KERNELS_REFERENCE, 1, &m.model)};
  EXPECT_EQ(open3.status, nullptr) << open3.message();
}

TEST(Executor, EachModelLoadsItsOwnKernelLibrary) {
  // The loader knows a library by its /proc/self/fd/N path: while one model's library is
  // loaded, another model's must not be handed the same one. The tiny library is linked with
  // -z nodelete in the full build, so it even outlives its model.
  for (bool releaseFirst : {false, true}) {
    SCOPED_TRACE(releaseFirst ? "after the first model is released" : "both models open");
    TempFile first, second;
    Model a;
    Status openA{openTiny(tinyModel(), first, TERN_KERNELS_GENERATED, 1, &a.model)};
    ASSERT_EQ(openA.status, nullptr) << openA.message();
    if (releaseFirst) {
      tern_model_release(a.model);
      a.model = nullptr;
    }
    TinyModel lying = tinyModel();
    lying.library = readBytes(TERN_TEST_TINY_KERNELS_ABI99);
    Model b;
    Status openB{openTiny(lying, second, TERN_KERNELS_GENERATED, 1, &b.model)};
    EXPECT_EQ(openB.code(), TERN_STATUS_UNIMPLEMENTED);
    EXPECT_TRUE(openB.contains("tern_kernel_abi_version is 99")) << openB.message();
  }
}

TEST(Executor, RejectsMissingKernelSymbol) {
  TinyModel tiny = tinyModel();
  tiny.matmulSymbol = "tiny_matmul_avx512";
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, TERN_KERNELS_GENERATED, 1, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_NOT_FOUND);
  EXPECT_TRUE(open.contains("kernels[2]")) << open.message();
  EXPECT_TRUE(open.contains("tiny_matmul_avx512")) << open.message();
}

TEST(Executor, RejectsUnloadableLibrary) {
  TinyModel tiny = tinyModel();
  tiny.library = std::vector<uint8_t>(256, 0x5a);
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, TERN_KERNELS_GENERATED, 1, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_DATA_LOSS);
  EXPECT_TRUE(open.contains("does not load")) << open.message();
}

TEST(Executor, RejectsOutOfRangeBinding) {
  for (tern_kernels_t kernels : {TERN_KERNELS_GENERATED, TERN_KERNELS_REFERENCE}) {
    TinyModel tiny = tinyModel();
    tiny.normWeightOffset = 4; // the 32-byte norm weight slice now ends past its section
    TempFile file;
    Model m;
    Status open{openTiny(tiny, file, kernels, 1, &m.model)};
    EXPECT_EQ(open.code(), TERN_STATUS_DATA_LOSS);
    EXPECT_TRUE(open.contains("entry point 'decode', dispatch 1, binding 1")) << open.message();
  }
}

TEST(Executor, DescribesModelAndTokenizes) {
  TempFile file;
  Model m;
  Status open{openTiny(tinyModel(), file, TERN_KERNELS_REFERENCE, 2, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  tern_model_info_t info;
  tern_model_info(m.model, &info);
  EXPECT_STREQ(info.architecture, "tiny");
  EXPECT_STREQ(info.target_cpu, "generic");
  EXPECT_EQ(info.vocab_size, 16);
  EXPECT_EQ(info.context_length, 8);
  EXPECT_EQ(info.num_layers, 1);
  EXPECT_EQ(info.hidden_size, 8);
  EXPECT_EQ(info.max_batch_rows, 4);
  EXPECT_EQ(info.weight_bytes, 0u); // the test's sections are not marked Weights
  EXPECT_EQ(info.arena_bytes, 512u);
  EXPECT_EQ(info.kv_cache_bytes, 2u * 8 * 8 * 4);
  EXPECT_STREQ(tern_model_chat_template(m.model), "{{ messages }}");

  EXPECT_EQ(tern_model_special_token(m.model, TERN_TOKEN_BOS), 1);
  EXPECT_EQ(tern_model_special_token(m.model, TERN_TOKEN_EOS), 2);
  EXPECT_EQ(tern_model_special_token(m.model, TERN_TOKEN_EOT), 3);
  EXPECT_TRUE(tern_model_is_end_of_generation(m.model, 2));
  EXPECT_TRUE(tern_model_is_end_of_generation(m.model, 3));
  EXPECT_FALSE(tern_model_is_end_of_generation(m.model, 1));
  EXPECT_FALSE(tern_model_is_end_of_generation(m.model, 10));

  int32_t tokens[8];
  size_t count = 0;
  const std::string text = "ab<|im_end|>";
  Status tok{tern_model_tokenize(m.model, text.data(), text.size(), 1, 1, tokens, 8, &count)};
  ASSERT_EQ(tok.status, nullptr) << tok.message();
  ASSERT_EQ(count, 3u);
  EXPECT_EQ(tokens[0], 1);  // <s>
  EXPECT_EQ(tokens[1], 10); // "▁ab": merges ▁+a (score -1), then ▁a+b (-0.5)
  EXPECT_EQ(tokens[2], 3);  // <|im_end|> parsed as special

  Status small{tern_model_tokenize(m.model, text.data(), text.size(), 1, 1, tokens, 2, &count)};
  EXPECT_EQ(small.code(), TERN_STATUS_OUT_OF_RANGE);
  EXPECT_EQ(count, 3u);

  char piece[8];
  size_t length = 0;
  Status p{tern_model_token_to_piece(m.model, 10, piece, sizeof(piece), &length)};
  ASSERT_EQ(p.status, nullptr) << p.message();
  EXPECT_EQ(std::string(piece, length), " ab");
  Status outside{tern_model_token_to_piece(m.model, 16, piece, sizeof(piece), &length)};
  EXPECT_EQ(outside.code(), TERN_STATUS_OUT_OF_RANGE);
  Status tiny{tern_model_token_to_piece(m.model, 10, piece, 2, &length)};
  EXPECT_EQ(tiny.code(), TERN_STATUS_OUT_OF_RANGE);
}

TEST(Executor, ModelWithoutTokenizerStillRuns) {
  TinyModel tiny = tinyModel();
  tiny.withTokenizer = false;
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, TERN_KERNELS_GENERATED, 1, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  EXPECT_EQ(tern_model_special_token(m.model, TERN_TOKEN_BOS), -1);
  size_t count = 0;
  Status tok{tern_model_tokenize(m.model, "a", 1, 1, 0, nullptr, 0, &count)};
  EXPECT_EQ(tok.code(), TERN_STATUS_NOT_FOUND);
  EXPECT_EQ(decodeOneByOne(m.model, {5}).size(), size_t(TinyModel::kVocab));
}

// Every record of |session|'s profile, in order.
std::vector<tern_profile_record_t> profileRecords(const tern_session_t *session) {
  std::vector<tern_profile_record_t> records(tern_session_profile_count(session));
  for (size_t i = 0; i < records.size(); ++i) {
    Status status{tern_session_profile_record(session, i, &records[i], sizeof(records[i]))};
    EXPECT_EQ(status.status, nullptr) << status.message();
  }
  return records;
}

// The tiny model's kernels, in dispatch order, with the bytes of the section slice each binds.
struct TinyKernel {
  const char *symbol, *family;
  uint64_t weightBytes;
};
const TinyKernel kTinyKernels[] = {
    {"tiny_embedding", "embedding", TinyModel::kVocab * TinyModel::kWidth * 4},
    {"tiny_rms_norm", "rms_norm", TinyModel::kWidth * 4},
    {"tiny_matmul", "matmul", TinyModel::kVocab * TinyModel::kWidth * 4},
};

// Checks records [first, first + 3) are the tiny kernels of |entry| run |runs| times.
void expectTinyEntry(const std::vector<tern_profile_record_t> &records, size_t first,
                     const char *entry, uint64_t runs) {
  ASSERT_GE(records.size(), first + 3);
  for (size_t k = 0; k < 3; ++k) {
    const tern_profile_record_t &r = records[first + k];
    SCOPED_TRACE(std::string(entry) + " " + kTinyKernels[k].symbol);
    EXPECT_STREQ(r.entry_point, entry);
    EXPECT_STREQ(r.symbol, kTinyKernels[k].symbol);
    EXPECT_STREQ(r.family, kTinyKernels[k].family);
    EXPECT_EQ(r.entry_runs, runs);
    EXPECT_EQ(r.calls, runs); // each kernel has one dispatch per run
    EXPECT_GT(r.seconds, 0.0);
    EXPECT_EQ(r.weight_bytes_per_call, kTinyKernels[k].weightBytes);
    EXPECT_EQ(r.weight_bytes, kTinyKernels[k].weightBytes * runs);
    EXPECT_EQ(r.kv_cache_bytes, 0u); // no attention
  }
}

TEST(Executor, ProfileRecordsNothingUnlessEnabled) {
  TempFile file;
  Model m;
  Status open{openTiny(tinyModel(), file, TERN_KERNELS_GENERATED, 2, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  EXPECT_EQ(tern_session_profile_enabled(s.session), 0);
  Status prefill{tern_session_eval(s.session, kPrompt.data(), kPrompt.size())};
  ASSERT_EQ(prefill.status, nullptr) << prefill.message();
  Status decode{tern_session_eval(s.session, kPrompt.data(), 1)};
  ASSERT_EQ(decode.status, nullptr) << decode.message();
  EXPECT_EQ(tern_session_profile_count(s.session), 0u);
  tern_profile_record_t record;
  Status none{tern_session_profile_record(s.session, 0, &record, sizeof(record))};
  EXPECT_EQ(none.code(), TERN_STATUS_OUT_OF_RANGE);
  EXPECT_TRUE(none.contains("index is 0, but the profile holds 0 records")) << none.message();
}

TEST(Executor, ProfileCountsEachKernelPerEntryPoint) {
  for (tern_kernels_t kernels : {TERN_KERNELS_GENERATED, TERN_KERNELS_REFERENCE}) {
    SCOPED_TRACE(kernels == TERN_KERNELS_GENERATED ? "generated" : "reference");
    TempFile file;
    Model m;
    Status open{openTiny(tinyModel(), file, kernels, 2, &m.model)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    Session s;
    Status create{tern_session_create(m.model, nullptr, &s.session)};
    ASSERT_EQ(create.status, nullptr) << create.message();
    tern_session_profile_enable(s.session, 1);
    EXPECT_EQ(tern_session_profile_enabled(s.session), 1);
    // 7 tokens with max_rows 4: two runs of 'prefill'; then 3 runs of 'decode'.
    Status prefill{tern_session_eval(s.session, kPrompt.data(), kPrompt.size())};
    ASSERT_EQ(prefill.status, nullptr) << prefill.message();
    tern_session_reset(s.session); // does not clear the profile
    for (int i = 0; i < 3; ++i) {
      Status step{tern_session_eval(s.session, &kPrompt[i], 1)};
      ASSERT_EQ(step.status, nullptr) << step.message();
    }
    const std::vector<tern_profile_record_t> records = profileRecords(s.session);
    ASSERT_EQ(records.size(), 6u);
    expectTinyEntry(records, 0, "decode", 3); // decode is listed first
    expectTinyEntry(records, 3, "prefill", 2);
  }
}

TEST(Executor, ProfileDisableKeepsAndResetClears) {
  TempFile file;
  Model m;
  Status open{openTiny(tinyModel(), file, TERN_KERNELS_GENERATED, 1, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  auto decode = [&](int steps) {
    for (int i = 0; i < steps; ++i) {
      Status step{tern_session_eval(s.session, &kPrompt[i], 1)};
      ASSERT_EQ(step.status, nullptr) << step.message();
    }
  };
  tern_session_profile_enable(s.session, 1);
  decode(2);
  tern_session_profile_enable(s.session, 0);
  decode(3); // not counted
  std::vector<tern_profile_record_t> records = profileRecords(s.session);
  expectTinyEntry(records, 0, "decode", 2);
  EXPECT_EQ(records.size(), 3u);

  tern_session_profile_reset(s.session);
  EXPECT_EQ(tern_session_profile_count(s.session), 0u);
  EXPECT_EQ(tern_session_profile_enabled(s.session), 0); // reset leaves the switch alone

  tern_session_reset(s.session);
  tern_session_profile_enable(s.session, 1);
  decode(1);
  records = profileRecords(s.session);
  EXPECT_EQ(records.size(), 3u);
  expectTinyEntry(records, 0, "decode", 1);
}

TEST(Executor, ProfileRecordChecksItsArguments) {
  TempFile file;
  Model m;
  Status open{openTiny(tinyModel(), file, TERN_KERNELS_GENERATED, 1, &m.model)};
  ASSERT_EQ(open.status, nullptr) << open.message();
  Session s;
  Status create{tern_session_create(m.model, nullptr, &s.session)};
  ASSERT_EQ(create.status, nullptr) << create.message();
  tern_session_profile_enable(s.session, 1);
  Status step{tern_session_eval(s.session, kPrompt.data(), 1)};
  ASSERT_EQ(step.status, nullptr) << step.message();

  tern_profile_record_t record;
  Status null{tern_session_profile_record(s.session, 0, nullptr, sizeof(record))};
  EXPECT_EQ(null.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_TRUE(null.contains("out_record is NULL")) << null.message();
  Status small{tern_session_profile_record(s.session, 0, &record, 8)};
  EXPECT_EQ(small.code(), TERN_STATUS_INVALID_ARGUMENT);
  EXPECT_TRUE(small.contains("record_size is 8, expected at least " +
                             std::to_string(sizeof(tern_profile_record_t))))
      << small.message();
  Status past{tern_session_profile_record(s.session, 3, &record, sizeof(record))};
  EXPECT_EQ(past.code(), TERN_STATUS_OUT_OF_RANGE);
  EXPECT_TRUE(past.contains("index is 3, but the profile holds 3 records")) << past.message();

  // A caller built against a longer record: its extra bytes come back zeroed.
  struct Longer {
    tern_profile_record_t record;
    uint64_t future[2];
  } longer;
  std::memset(&longer, 0xff, sizeof(longer));
  Status ok{tern_session_profile_record(s.session, 2, &longer.record, sizeof(longer))};
  ASSERT_EQ(ok.status, nullptr) << ok.message();
  EXPECT_STREQ(longer.record.symbol, "tiny_matmul");
  EXPECT_EQ(longer.record.calls, 1u);
  EXPECT_EQ(longer.future[0], 0u);
  EXPECT_EQ(longer.future[1], 0u);
}

// Logits of the last token of |tokens| evaluated in one tern_session_eval call on a new
// session of |model|, with the session's profile (one record per kernel that ran).
std::vector<float> prefillLastLogits(tern_model_t *model, const std::vector<int32_t> &tokens,
                                     std::vector<tern_profile_record_t> *records) {
  Session s;
  Status create{tern_session_create(model, nullptr, &s.session)};
  EXPECT_EQ(create.status, nullptr) << create.message();
  if (!s.session)
    return {};
  tern_session_profile_enable(s.session, 1);
  Status eval{tern_session_eval(s.session, tokens.data(), tokens.size())};
  EXPECT_EQ(eval.status, nullptr) << eval.message();
  *records = profileRecords(s.session);
  const float *logits = tern_session_logits(s.session);
  return logits ? std::vector<float>(logits, logits + TinyModel::kVocab) : std::vector<float>{};
}

TEST(Executor, PrefillChunksBeforeTheLastSkipLogitsOnlyDispatches) {
  for (tern_kernels_t kernels : {TERN_KERNELS_GENERATED, TERN_KERNELS_REFERENCE}) {
    SCOPED_TRACE(kernels == TERN_KERNELS_GENERATED ? "generated" : "reference");
    // Without the field every chunk runs every dispatch: the logits to compare against.
    TempFile plainFile;
    Model plain;
    TinyModel tiny = tinyModel();
    tiny.withKVWrite = true;
    Status openPlain{openTiny(tiny, plainFile, kernels, 2, &plain.model)};
    ASSERT_EQ(openPlain.status, nullptr) << openPlain.message();
    std::vector<tern_profile_record_t> plainRecords;
    const std::vector<float> expected = prefillLastLogits(plain.model, kPrompt, &plainRecords);
    ASSERT_EQ(plainRecords.size(), 4u);
    for (const tern_profile_record_t &r : plainRecords)
      EXPECT_EQ(r.calls, 2u) << r.symbol; // 7 tokens, max_rows 4: two chunks

    // rms_norm and matmul (the "head") only compute logits.
    tiny.logitsOnlyDispatches = 2;
    TempFile file;
    Model m;
    Status open{openTiny(tiny, file, kernels, 2, &m.model)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    std::vector<tern_profile_record_t> records;
    EXPECT_EQ(prefillLastLogits(m.model, kPrompt, &records), expected);
    ASSERT_EQ(records.size(), 4u);
    const std::pair<const char *, uint64_t> calls[] = {
        {"tiny_embedding", 2}, {"tiny_kv_cache_write", 2}, {"tiny_rms_norm", 1},
        {"tiny_matmul", 1}};
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_STREQ(records[k].entry_point, "prefill");
      EXPECT_STREQ(records[k].symbol, calls[k].first);
      EXPECT_EQ(records[k].entry_runs, 2u); // a chunk that skips the head is still a run
      EXPECT_EQ(records[k].calls, calls[k].second) << calls[k].first;
    }

    // Calls that return every row's logits, or decode steps, never skip the head, even though
    // their entry points carry the field too.
    const std::vector<float> oneByOne = decodeOneByOne(m.model, kPrompt);
    EXPECT_EQ(std::vector<float>(oneByOne.end() - TinyModel::kVocab, oneByOne.end()), expected);
    Session s;
    Status create{tern_session_create(m.model, nullptr, &s.session)};
    ASSERT_EQ(create.status, nullptr) << create.message();
    std::vector<float> all(kPrompt.size() * TinyModel::kVocab, -1.0f);
    Status allEval{
        tern_session_eval_all_logits(s.session, kPrompt.data(), kPrompt.size(), all.data())};
    ASSERT_EQ(allEval.status, nullptr) << allEval.message();
    EXPECT_EQ(all, oneByOne);
  }
}

TEST(Executor, RejectsLogitsOnlyDispatchesThatBindTheKVCache) {
  TinyModel tiny = tinyModel();
  tiny.withKVWrite = true;
  tiny.logitsOnlyDispatches = 3; // would skip kv_cache_write (dispatch 1)
  TempFile file;
  Model m;
  Status open{openTiny(tiny, file, TERN_KERNELS_REFERENCE, 1, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_DATA_LOSS);
  EXPECT_TRUE(open.contains("entry point 'decode': dispatch 1 (kernel 'tiny_kv_cache_write') "
                            "binds the KV cache, but logits_only_dispatches (3)"))
      << open.message();
  EXPECT_EQ(m.model, nullptr);

  tiny.logitsOnlyDispatches = 5; // more than the four dispatches
  TempFile file2;
  Status open2{openTiny(tiny, file2, TERN_KERNELS_REFERENCE, 1, &m.model)};
  EXPECT_EQ(open2.code(), TERN_STATUS_DATA_LOSS);
  EXPECT_TRUE(open2.contains("field logits_only_dispatches is 5, but it has 4 dispatches"))
      << open2.message();
}

TEST(Executor, ShortSessionAllocatesAShorterKVCache) {
  for (tern_kernels_t kernels : {TERN_KERNELS_GENERATED, TERN_KERNELS_REFERENCE}) {
    SCOPED_TRACE(kernels == TERN_KERNELS_GENERATED ? "generated" : "reference");
    TinyModel tiny = tinyModel();
    tiny.withKVWrite = true;
    TempFile file;
    Model m;
    Status open{openTiny(tiny, file, kernels, 2, &m.model)};
    ASSERT_EQ(open.status, nullptr) << open.message();
    tern_model_info_t model;
    tern_model_info(m.model, &model);
    // Keys and values, F32: 1 layer x 8 positions x 8 floats each.
    EXPECT_EQ(model.kv_cache_bytes, 2u * TinyModel::kContext * TinyModel::kWidth * 4);

    Session full;
    Status createFull{tern_session_create(m.model, nullptr, &full.session)};
    ASSERT_EQ(createFull.status, nullptr) << createFull.message();
    tern_session_info_t info;
    tern_session_info(full.session, &info);
    EXPECT_EQ(info.context_length, TinyModel::kContext);
    EXPECT_EQ(info.kv_cache_bytes, model.kv_cache_bytes);
    EXPECT_EQ(info.arena_bytes, model.arena_bytes);

    tern_session_options_t options;
    tern_session_options_init(&options);
    options.context_length = 5;
    Session shorter;
    Status createShort{tern_session_create(m.model, &options, &shorter.session)};
    ASSERT_EQ(createShort.status, nullptr) << createShort.message();
    tern_session_info(shorter.session, &info);
    EXPECT_EQ(info.context_length, 5);
    EXPECT_EQ(info.kv_cache_bytes, 2u * 5 * TinyModel::kWidth * 4);
    // The session fills its whole (shorter) cache: a prefill chunk, then decode steps.
    Status prefill{tern_session_eval(shorter.session, kPrompt.data(), 4)};
    ASSERT_EQ(prefill.status, nullptr) << prefill.message();
    Status step{tern_session_eval(shorter.session, &kPrompt[4], 1)};
    ASSERT_EQ(step.status, nullptr) << step.message();
    const std::vector<double> expected = TinyModel::expectedLogits(kPrompt[4]);
    for (int64_t o = 0; o < TinyModel::kVocab; ++o)
      EXPECT_NEAR(tern_session_logits(shorter.session)[o], expected[o], 1e-5) << o;
    Status past{tern_session_eval(shorter.session, &kPrompt[5], 1)};
    EXPECT_EQ(past.code(), TERN_STATUS_OUT_OF_RANGE) << past.message();
  }
}

TEST(Executor, OpenReportsMissingFile) {
  Model m;
  Status open{tern_model_open("/nonexistent/tiny.tern", nullptr, &m.model)};
  EXPECT_EQ(open.code(), TERN_STATUS_NOT_FOUND);
  EXPECT_TRUE(open.contains("tiny.tern")) << open.message();
}

} // namespace
} // namespace tern::test
