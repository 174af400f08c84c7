// Tests of chat template recognition and rendering against each family's template definition.
#include "ChatTemplate.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace tern::cli {
namespace {

// Templates as the models' tokenizer configs define them (the Llama-3 one is
// bitnet-b1.58-2B-4T's tokenizer_config.json).
const char* kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim "
    "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif "
    "%}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";
const char* kChatML =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' "
    "}}{% endif %}";
const char* kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
    "system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 "
    "and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% "
    "endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' "
    "[/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
    "eos_token }}{% endif %}{% endfor %}";
const char* kZephyr =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
    "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' "
    "+ message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ "
    "'<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and "
    "add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
const char* kPhi3 =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + "
    "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + "
    "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' "
    "%}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";
const char* kGemma =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first_user_prefix = "
    "messages[0]['content'] + '\n\n' %}{% set loop_messages = messages[1:] %}{% else %}{% set "
    "first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}{% for message in "
    "loop_messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% "
    "set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + (first_user_prefix "
    "if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if "
    "add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
const char* kBitNet =
    "{% for message in messages %}{% set content = message['content'] %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{% if message['role'] == 'system' %}{{ "
    "'System: ' + content + '<|eot_id|>' }}{% elif message['role'] == 'user' %}{{ 'User: ' + "
    "content + '<|eot_id|>' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + content "
    "+ '<|eot_id|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant: ' }}{% "
    "endif %}";

struct Family {
  const char* jinja;
  ChatFormat format;
  // The reply as the model generates it; Llama-2 and Plain replies start with their space.
  const char* reply;
  // system "You are kind.", user "Hello", |reply|, user "Bye", then the generation prompt; the
  // BOS token is left to the tokenizer.
  const char* expected;
};

const Family kFamilies[] = {
    {kLlama3, ChatFormat::Llama3, "Hi there",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are kind.<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {kChatML, ChatFormat::ChatML, "Hi there",
     "<|im_start|>system\nYou are kind.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
     "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
     "<|im_start|>assistant\n"},
    {kLlama2, ChatFormat::Llama2, " Hi there",
     "[INST] <<SYS>>\nYou are kind.\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Bye [/INST]"},
    {kZephyr, ChatFormat::Zephyr, "Hi there",
     "<|system|>\nYou are kind.</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n"
     "<|user|>\nBye</s>\n<|assistant|>\n"},
    {kPhi3, ChatFormat::Phi3, "Hi there",
     "<|system|>\nYou are kind.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n"
     "<|user|>\nBye<|end|>\n<|assistant|>\n"},
    {kGemma, ChatFormat::Gemma, "Hi there",
     "<start_of_turn>user\nYou are kind.\n\nHello<end_of_turn>\n<start_of_turn>model\n"
     "Hi there<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"},
    {kBitNet, ChatFormat::BitNet, "Hi there",
     "System: You are kind.<|eot_id|>User: Hello<|eot_id|>Assistant: Hi there<|eot_id|>"
     "User: Bye<|eot_id|>Assistant: "},
    {"", ChatFormat::Plain, " Hi there",
     "System: You are kind.\nUser: Hello\nAssistant: Hi there\nUser: Bye\nAssistant:"},
};

// Names the family in test names instead of dumping the struct's bytes.
void PrintTo(const Family& family, std::ostream* out) { *out << chatFormatName(family.format); }

class ChatFamilies : public ::testing::TestWithParam<Family> {};

TEST_P(ChatFamilies, RecognisesTheTemplate) {
  bool recognised = false;
  EXPECT_EQ(detectChatFormat(GetParam().jinja, &recognised), GetParam().format);
  EXPECT_EQ(recognised, GetParam().format != ChatFormat::Plain);
}

TEST_P(ChatFamilies, RendersTheConversationAsTheTemplateDefines) {
  ChatTemplate chat(GetParam().format);
  std::vector<ChatMessage> messages = {{"system", "You are kind."},
                                       {"user", "Hello"},
                                       {"assistant", GetParam().reply},
                                       {"user", "Bye"}};
  EXPECT_EQ(chat.render(messages, /*add_generation_prompt=*/true), GetParam().expected);
}

TEST_P(ChatFamilies, TurnsConcatenateToTheWholeConversation) {
  // What `tern chat` evaluates turn by turn, plus the generated reply, is the full rendering:
  // so the KV cache of earlier turns stays valid.
  ChatTemplate chat(GetParam().format);
  std::string text = chat.renderTurn("You are kind.", "Hello", /*first=*/true) +
                     GetParam().reply + chat.renderTurn("You are kind.", "Bye", /*first=*/false);
  EXPECT_EQ(text, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Families, ChatFamilies, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<Family>& info) {
                           return std::string(chatFormatName(info.param.format));
                         });

TEST(ChatTemplate, UnknownTemplateFallsBackToPlain) {
  bool recognised = true;
  EXPECT_EQ(detectChatFormat("{{ messages | tojson }}", &recognised), ChatFormat::Plain);
  EXPECT_FALSE(recognised);
}

TEST(ChatTemplate, WithoutASystemPromptTheFirstTurnIsTheUserAlone) {
  EXPECT_EQ(ChatTemplate(ChatFormat::Llama2).renderTurn("", "Hello", true),
            "[INST] Hello [/INST]");
  EXPECT_EQ(ChatTemplate(ChatFormat::Gemma).renderTurn("", "Hello", true),
            "<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(ChatTemplate(ChatFormat::ChatML).renderTurn("", "Hello", true),
            "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ChatTemplate(ChatFormat::Plain).renderTurn("", "Hello", true),
            "User: Hello\nAssistant:");
}

} // namespace
} // namespace tern::cli
