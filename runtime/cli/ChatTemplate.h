// Chat prompt formats recognised from a model's Jinja chat template and rendered in C++.
#ifndef TERN_CLI_CHATTEMPLATE_H
#define TERN_CLI_CHATTEMPLATE_H

#include <string>
#include <string_view>
#include <vector>

namespace tern::cli {

// The template families `tern chat` knows. A full Jinja engine is out of scope: the family is
// recognised by its marker tokens and rendered by hand, turn by turn, so the KV cache of earlier
// turns is kept.
enum class ChatFormat {
  Llama3, // <|start_header_id|>role<|end_header_id|>\n\n ... <|eot_id|>
  ChatML, // <|im_start|>role\n ... <|im_end|>\n
  Llama2, // [INST] <<SYS>>\n...\n<</SYS>>\n\n ... [/INST]
  Zephyr, // <|user|>\n ... </s>\n
  Phi3,   // <|user|>\n ... <|end|>\n
  Gemma,  // <start_of_turn>user\n ... <end_of_turn>\n
  BitNet, // User: ...<|eot_id|>Assistant:  (bitnet-b1.58-2B-4T)
  Plain,  // User: ...\nAssistant: (the fallback for unknown or empty templates)
};

// The family of |jinja| (the model's tokenizer.chat_template); Plain with |*recognised| false
// when it is empty or unknown.
ChatFormat detectChatFormat(std::string_view jinja, bool* recognised);

const char* chatFormatName(ChatFormat format);

struct ChatMessage {
  std::string role; // "system", "user" or "assistant"
  std::string content;
};

// Renders one conversation turn at a time. The BOS token is not part of the text: the caller
// tokenizes the first turn with add_bos.
class ChatTemplate {
public:
  explicit ChatTemplate(ChatFormat format) : format_(format) {}

  ChatFormat format() const { return format_; }

  // The text that opens an assistant reply to |user|: on the first turn with |system| (may be
  // empty) in front, on later turns with the previous reply's end in front (its end-of-turn
  // token is not part of the generated text, so the next turn supplies it).
  std::string renderTurn(const std::string& system, const std::string& user, bool first) const;

  // What closes an assistant reply; a reply's text plus this, followed by the next turn's
  // opening, is the template's rendering of the conversation.
  std::string assistantEnd() const;

  // The whole conversation as the model's template renders it (system, user, assistant
  // messages in order), ending with the assistant prompt when |add_generation_prompt|.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

private:
  ChatFormat format_;
};

} // namespace tern::cli

#endif // TERN_CLI_CHATTEMPLATE_H
