// `tern perplexity`: token-level perplexity of a text file, in sliding windows.
//
// The text is tokenized once (BOS first when the model asks for it). Windows of --ctx tokens
// start every --stride tokens; each is evaluated from an empty KV cache, and scores only the
// tokens no earlier window scored, each predicted from everything before it in its window
// (the first token of the text is never scored). With the stride equal to the context the
// windows do not overlap; a smaller stride gives each scored token more context at more cost.
// Perplexity = exp(mean negative log-likelihood), log-softmax in double.
#include "Commands.h"
#include "Common.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace tern::cli {
namespace {

// -log softmax(row)[target], in double.
double negativeLogLikelihood(const float* row, int64_t vocab, int32_t target) {
  double max = row[0];
  for (int64_t i = 1; i < vocab; ++i)
    max = std::max(max, double(row[i]));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += std::exp(double(row[i]) - max);
  return max + std::log(sum) - double(row[target]);
}

bool readFile(const std::string& path, std::string* text, std::string* error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *error = "cannot read the text file '" + path + "'";
    return false;
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  *text = contents.str();
  return true;
}

} // namespace

int perplexityCommand(int argc, char** argv) {
  std::string path;
  int32_t ctx = 0, stride = 0;
  bool no_bos = false, json = false;
  ModelFlags model_flags;
  Flags flags("tern perplexity", "tern perplexity MODEL.tern -f TEXT [--ctx N] [--stride S]",
              "Token-level perplexity of a text file: windows of --ctx tokens every --stride\n"
              "tokens, each from an empty KV cache, scoring the tokens no earlier window\n"
              "scored. Progress goes to stderr on a terminal.");
  flags.addString("--file", "-f", &path, "the text file to score (required)");
  flags.addInt("--ctx", "-c", &ctx, Range{0, 1e9},
               "tokens per window (default: the model's context, at most 512)");
  flags.addInt("--stride", nullptr, &stride, Range{0, 1e9},
               "tokens between window starts (default: --ctx, no overlap)");
  flags.addBool("--no-bos", nullptr, &no_bos, "do not prepend the BOS token");
  flags.addBool("--json", nullptr, &json, "print one JSON object instead of text");
  model_flags.add(flags);

  switch (flags.parse(argc, argv)) {
  case ParseOutcome::Help:
    std::fputs(flags.help().c_str(), stdout);
    return 0;
  case ParseOutcome::Error:
    std::fprintf(stderr, "%s\n", flags.error().c_str());
    return kExitUsage;
  case ParseOutcome::Ok:
    break;
  }
  if (!flags.expectPositionals(1, "the MODEL.tern argument")) {
    std::fprintf(stderr, "%s\n", flags.error().c_str());
    return kExitUsage;
  }
  const std::string command = flags.command();
  if (path.empty()) {
    std::fprintf(stderr, "%s: missing -f TEXT (see '%s --help')\n", command.c_str(),
                 command.c_str());
    return kExitUsage;
  }
  std::string text, error;
  if (!readFile(path, &text, &error)) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), error.c_str());
    return kExitFailure;
  }

  ModelPtr model = openModel(command, flags.positionals()[0], model_flags);
  if (!model)
    return kExitFailure;
  tern_model_info_t info;
  tern_model_info(model.get(), &info);
  const int64_t window = ctx ? ctx : std::min<int64_t>(info.context_length, 512);
  const int64_t step = stride ? stride : window;
  if (window < 2 || window > info.context_length) {
    std::fprintf(stderr, "%s: --ctx is %" PRId64 ", expected 2 up to the model's context (%" PRId64
                         ")\n",
                 command.c_str(), window, info.context_length);
    return kExitUsage;
  }
  if (step > window) {
    std::fprintf(stderr, "%s: --stride (%" PRId64 ") must not exceed --ctx (%" PRId64 "): tokens "
                         "between windows would go unscored\n",
                 command.c_str(), step, window);
    return kExitUsage;
  }
  std::vector<int32_t> tokens;
  if (!tokenize(command, model.get(), text, !no_bos, /*parse_special=*/false, &tokens))
    return kExitFailure;
  const int64_t total = int64_t(tokens.size());
  if (total < 2) {
    std::fprintf(stderr, "%s: '%s' holds %" PRId64 " token(s); scoring needs at least 2\n",
                 command.c_str(), path.c_str(), total);
    return kExitFailure;
  }

  SessionPtr session = createSession(command, model.get());
  if (!session)
    return kExitFailure;
  const int64_t vocab = info.vocab_size;
  std::vector<float> logits(size_t(window) * size_t(vocab));
  const int64_t windows = total <= window ? 1 : 1 + (total - window + step - 1) / step;
  const bool progress = isatty(STDERR_FILENO);
  double nll = 0;
  int64_t scored = 0, prevEnd = 0, done = 0;
  const Clock::time_point start = Clock::now();
  for (int64_t begin = 0; begin < total; begin += step) {
    const int64_t end = std::min(begin + window, total);
    tern_session_reset(session.get());
    if (!succeeded(command,
                   tern_session_eval_all_logits(session.get(), tokens.data() + begin,
                                                size_t(end - begin), logits.data()),
                   "evaluation failed"))
      return kExitFailure;
    for (int64_t j = std::max(prevEnd, begin + 1); j < end; ++j) {
      nll += negativeLogLikelihood(logits.data() + size_t(j - 1 - begin) * size_t(vocab), vocab,
                                   tokens[size_t(j)]);
      ++scored;
    }
    prevEnd = end;
    ++done;
    if (progress)
      std::fprintf(stderr, "\r%s: window %" PRId64 "/%" PRId64 ", perplexity so far %.4f",
                   command.c_str(), done, windows, std::exp(nll / double(scored)));
    if (end == total)
      break;
  }
  if (progress)
    std::fputc('\n', stderr);
  const double perplexity = std::exp(nll / double(scored));
  if (json) {
    nlohmann::ordered_json out;
    out["file"] = path;
    out["tokens"] = total;
    out["tokens_scored"] = scored;
    out["ctx"] = window;
    out["stride"] = step;
    out["windows"] = done;
    out["nll_per_token"] = nll / double(scored);
    out["perplexity"] = perplexity;
    out["seconds"] = secondsSince(start);
    std::printf("%s\n", out.dump(1).c_str());
  } else {
    std::printf("perplexity %.4f over %" PRId64 " tokens (%" PRId64 " windows of %" PRId64
                ", stride %" PRId64 ")\n",
                perplexity, scored, done, window, step);
  }
  return 0;
}

} // namespace tern::cli
