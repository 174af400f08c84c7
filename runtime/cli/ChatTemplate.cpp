// Recognises chat template families by their marker tokens and renders their turns.
#include "ChatTemplate.h"

namespace tern::cli {
namespace {

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Jinja's `| trim` and Python's str.strip(), which several templates apply to contents.
std::string trim(const std::string& text) {
  const char* space = " \t\n\r\f\v";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos)
    return "";
  size_t end = text.find_last_not_of(space);
  return text.substr(begin, end - begin + 1);
}

// The system message as its own block, for families that have a system role.
std::string systemBlock(ChatFormat format, const std::string& system) {
  switch (format) {
  case ChatFormat::Llama3:
    return "<|start_header_id|>system<|end_header_id|>\n\n" + trim(system) + "<|eot_id|>";
  case ChatFormat::ChatML:
    return "<|im_start|>system\n" + system + "<|im_end|>\n";
  case ChatFormat::Zephyr:
    return "<|system|>\n" + system + "</s>\n";
  case ChatFormat::Phi3:
    return "<|system|>\n" + system + "<|end|>\n";
  case ChatFormat::BitNet:
    return "System: " + system + "<|eot_id|>";
  case ChatFormat::Plain:
    return "System: " + system + "\n";
  case ChatFormat::Llama2: // these put the system text inside the first user turn
  case ChatFormat::Gemma:
    return "";
  }
  return "";
}

// A user message; |system| is non-empty only for the first turn of families without a system
// role, which fold it into that turn.
std::string userBlock(ChatFormat format, const std::string& user, const std::string& system,
                      bool first) {
  switch (format) {
  case ChatFormat::Llama3:
    return "<|start_header_id|>user<|end_header_id|>\n\n" + trim(user) + "<|eot_id|>";
  case ChatFormat::ChatML:
    return "<|im_start|>user\n" + user + "<|im_end|>\n";
  case ChatFormat::Llama2: {
    // Every turn but the first starts with a textual BOS; the first gets it from the tokenizer.
    std::string text = first ? "[INST] " : "<s>[INST] ";
    if (!system.empty())
      text += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
    return text + trim(user) + " [/INST]";
  }
  case ChatFormat::Zephyr:
    return "<|user|>\n" + user + "</s>\n";
  case ChatFormat::Phi3:
    return "<|user|>\n" + user + "<|end|>\n";
  case ChatFormat::Gemma:
    return "<start_of_turn>user\n" + (system.empty() ? "" : trim(system) + "\n\n") + trim(user) +
           "<end_of_turn>\n";
  case ChatFormat::BitNet:
    return "User: " + user + "<|eot_id|>";
  case ChatFormat::Plain:
    return "User: " + user + "\n";
  }
  return "";
}

std::string generationPrompt(ChatFormat format) {
  switch (format) {
  case ChatFormat::Llama3:
    return "<|start_header_id|>assistant<|end_header_id|>\n\n";
  case ChatFormat::ChatML:
    return "<|im_start|>assistant\n";
  case ChatFormat::Llama2: // the reply follows [/INST] directly
    return "";
  case ChatFormat::Zephyr:
  case ChatFormat::Phi3:
    return "<|assistant|>\n";
  case ChatFormat::Gemma:
    return "<start_of_turn>model\n";
  case ChatFormat::BitNet:
    return "Assistant: ";
  case ChatFormat::Plain:
    return "Assistant:";
  }
  return "";
}

bool foldsSystemIntoUser(ChatFormat format) {
  return format == ChatFormat::Llama2 || format == ChatFormat::Gemma;
}

} // namespace

ChatFormat detectChatFormat(std::string_view jinja, bool* recognised) {
  *recognised = true;
  // Most specific markers first: a Llama-3 template also mentions <|eot_id|>, as BitNet's does.
  if (contains(jinja, "<|start_header_id|>"))
    return ChatFormat::Llama3;
  if (contains(jinja, "<|im_start|>"))
    return ChatFormat::ChatML;
  if (contains(jinja, "<start_of_turn>"))
    return ChatFormat::Gemma;
  if (contains(jinja, "[INST]"))
    return ChatFormat::Llama2;
  if (contains(jinja, "<|user|>"))
    return contains(jinja, "<|end|>") ? ChatFormat::Phi3 : ChatFormat::Zephyr;
  if (contains(jinja, "User: ") && contains(jinja, "Assistant:"))
    return contains(jinja, "<|eot_id|>") ? ChatFormat::BitNet : ChatFormat::Plain;
  *recognised = false;
  return ChatFormat::Plain;
}

const char* chatFormatName(ChatFormat format) {
  switch (format) {
  case ChatFormat::Llama3:
    return "llama3";
  case ChatFormat::ChatML:
    return "chatml";
  case ChatFormat::Llama2:
    return "llama2";
  case ChatFormat::Zephyr:
    return "zephyr";
  case ChatFormat::Phi3:
    return "phi3";
  case ChatFormat::Gemma:
    return "gemma";
  case ChatFormat::BitNet:
    return "bitnet";
  case ChatFormat::Plain:
    return "plain";
  }
  return "unknown";
}

std::string ChatTemplate::assistantEnd() const {
  switch (format_) {
  case ChatFormat::Llama3:
  case ChatFormat::BitNet:
    return "<|eot_id|>";
  case ChatFormat::ChatML:
    return "<|im_end|>\n";
  case ChatFormat::Llama2:
    return " </s>";
  case ChatFormat::Zephyr:
    return "</s>\n";
  case ChatFormat::Phi3:
    return "<|end|>\n";
  case ChatFormat::Gemma:
    return "<end_of_turn>\n";
  case ChatFormat::Plain:
    return "\n";
  }
  return "";
}

std::string ChatTemplate::renderTurn(const std::string& system, const std::string& user,
                                     bool first) const {
  std::string text;
  if (!first)
    text += assistantEnd();
  const bool folds = foldsSystemIntoUser(format_);
  if (first && !system.empty() && !folds)
    text += systemBlock(format_, system);
  text += userBlock(format_, user, first && folds ? system : std::string(), first);
  return text + generationPrompt(format_);
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  const bool folds = foldsSystemIntoUser(format_);
  std::string text;
  std::string pending_system; // for families that fold it into the next user turn
  bool first_user = true;
  for (const ChatMessage& message : messages) {
    if (message.role == "system") {
      if (folds)
        pending_system = message.content;
      else
        text += systemBlock(format_, message.content);
    } else if (message.role == "user") {
      text += userBlock(format_, message.content, pending_system, first_user);
      pending_system.clear();
      first_user = false;
    } else if (message.role == "assistant") {
      text += generationPrompt(format_);
      if (format_ == ChatFormat::Llama2) // ' ' + content.strip() + ' ' + eos_token
        text += " " + trim(message.content);
      else if (format_ == ChatFormat::Llama3 || format_ == ChatFormat::Gemma) // content | trim
        text += trim(message.content);
      else
        text += message.content;
      text += assistantEnd();
    }
  }
  if (add_generation_prompt)
    text += generationPrompt(format_);
  return text;
}

} // namespace tern::cli
