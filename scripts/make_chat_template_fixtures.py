#!/usr/bin/env python3
"""Chat-template fixtures for Tests/ChatTemplatesTests, rendered by transformers' own
apply_chat_template (jinja2, trim_blocks + lstrip_blocks, raise_exception, strftime_now).

Run by hand in a venv outside the repo:
    python3 -m venv /work/venv-tpl && /work/venv-tpl/bin/pip install transformers jinja2 gguf numpy
    /work/venv-tpl/bin/python scripts/make_chat_template_fixtures.py
Template sources: SmolLM2's from the test GGUF (tokenizer.chat_template); Qwen3's, SmolLM3's,
Gemma 2's and Phi-3.5-mini's from llama.cpp's models/templates/ (Qwen-Qwen3-0.6B.jinja,
HuggingFaceTB-SmolLM3-3B.jinja, google-gemma-2-2b-it.jinja, microsoft-Phi-3.5-mini-instruct.jinja;
pass the folder with --llama-cpp-templates, e.g. the llama-cpp-python sdist's
vendor/llama.cpp/models/templates); the others (Phi-4-mini's and Gemma 3 instruct's included)
are the public `chat_template` strings of the models' tokenizer_config.json, kept below as data
with where the verbatim text was found. Gemma 3's cases include content given as a list of
{"type": "text"} / {"type": "image"} parts; its string-content cases also check Lorikeet's
built-in copy (Tests/LlamaTests/GemmaChatTemplateTests.swift), used for Gemma GGUFs without a
template such as the gemma-3-270m base model.
--only NAME writes just that fixture.
"""
import argparse
import json
import pathlib

from gguf import GGUFReader
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "ChatTemplatesTests" / "Fixtures"
GGUF = ROOT / "cache" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_template():
    field = GGUFReader(str(GGUF)).fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


# JSON string bodies, as tokenizer_config.json writes them.
LLAMA2 = json.loads('"' + r"{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}" + '"')

LLAMA3 = json.loads('"' + r"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}" + '"')

LLAMA32 = json.loads('"' + r"""{{- bos_token }}\n{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%- endif %}\n{%- if not tools_in_user_message is defined %}\n    {%- set tools_in_user_message = true %}\n{%- endif %}\n{%- if not date_string is defined %}\n    {%- if strftime_now is defined %}\n        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n    {%- else %}\n        {%- set date_string = \"26 Jul 2024\" %}\n    {%- endif %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n{#- This block extracts the system message, so we can slot it into the right place. #}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n\n{#- System message #}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{%- if tools is not none and not tools_in_user_message %}\n    {{- \"You have access to the following functions. To call a function, please respond with JSON for a function call.\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n{%- endif %}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n\n{#- Custom tools are passed in a user message with some extra guidance #}\n{%- if tools_in_user_message and not tools is none %}\n    {#- Extract the first user message so we can plug it in here #}\n    {%- if messages | length != 0 %}\n        {%- set first_user_message = messages[0]['content']|trim %}\n        {%- set messages = messages[1:] %}\n    {%- else %}\n        {{- raise_exception(\"Cannot put tools in the first user message when there's no first user message!\") }}\n{%- endif %}\n    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}\n    {{- \"Given the following functions, please respond with a JSON for a function call \" }}\n    {{- \"with its proper arguments that best answers the given prompt.\\n\\n\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n    {{- first_user_message + \"<|eot_id|>\"}}\n{%- endif %}\n\n{%- for message in messages %}\n    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}\n        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n    {%- elif 'tool_calls' in message %}\n        {%- if not message.tool_calls|length == 1 %}\n            {{- raise_exception(\"This model only supports single tool-calls at once!\") }}\n        {%- endif %}\n        {%- set tool_call = message.tool_calls[0].function %}\n        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n        {{- '{\"name\": \"' + tool_call.name + '\", ' }}\n        {{- '\"parameters\": ' }}\n        {{- tool_call.arguments | tojson }}\n        {{- \"}\" }}\n        {{- \"<|eot_id|>\" }}\n    {%- elif message.role == \"tool\" or message.role == \"ipython\" %}\n        {{- \"<|start_header_id|>ipython<|end_header_id|>\\n\\n\" }}\n        {%- if message.content is mapping or message.content is iterable %}\n            {{- message.content | tojson }}\n        {%- else %}\n            {{- message.content }}\n        {%- endif %}\n        {{- \"<|eot_id|>\" }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n""" + '"')

LLAMA31 = json.loads('"' + r"""{{- bos_token }}\n{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%- endif %}\n{%- if not tools_in_user_message is defined %}\n    {%- set tools_in_user_message = true %}\n{%- endif %}\n{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n{#- This block extracts the system message, so we can slot it into the right place. #}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n\n{#- System message + builtin tools #}\n{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if builtin_tools is defined or tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{%- if builtin_tools is defined %}\n    {{- \"Tools: \" + builtin_tools | reject('equalto', 'code_interpreter') | join(\", \") + \"\\n\\n\"}}\n{%- endif %}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{%- if tools is not none and not tools_in_user_message %}\n    {{- \"You have access to the following functions. To call a function, please respond with JSON for a function call.\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n{%- endif %}\n{{- system_message }}\n{{- \"<|eot_id|>\" }}\n\n{#- Custom tools are passed in a user message with some extra guidance #}\n{%- if tools_in_user_message and not tools is none %}\n    {#- Extract the first user message so we can plug it in here #}\n    {%- if messages | length != 0 %}\n        {%- set first_user_message = messages[0]['content']|trim %}\n        {%- set messages = messages[1:] %}\n    {%- else %}\n        {{- raise_exception(\"Cannot put tools in the first user message when there's no first user message!\") }}\n{%- endif %}\n    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}\n    {{- \"Given the following functions, please respond with a JSON for a function call \" }}\n    {{- \"with its proper arguments that best answers the given prompt.\\n\\n\" }}\n    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n    {{- first_user_message + \"<|eot_id|>\"}}\n{%- endif %}\n\n{%- for message in messages %}\n    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}\n        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n    {%- elif 'tool_calls' in message %}\n        {%- if not message.tool_calls|length == 1 %}\n            {{- raise_exception(\"This model only supports single tool-calls at once!\") }}\n        {%- endif %}\n        {%- set tool_call = message.tool_calls[0].function %}\n        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}\n            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n            {{- \"<|python_tag|>\" + tool_call.name + \".call(\" }}\n            {%- for arg_name, arg_val in tool_call.arguments | items %}\n                {{- arg_name + '=\"' + arg_val + '\"' }}\n                {%- if not loop.last %}\n                    {{- \", \" }}\n                {%- endif %}\n                {%- endfor %}\n            {{- \")\" }}\n        {%- else  %}\n            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n            {{- '{\"name\": \"' + tool_call.name + '\", ' }}\n            {{- '\"parameters\": ' }}\n            {{- tool_call.arguments | tojson }}\n            {{- \"}\" }}\n        {%- endif %}\n        {%- if builtin_tools is defined %}\n            {#- This means we're in ipython mode #}\n            {{- \"<|eom_id|>\" }}\n        {%- else %}\n            {{- \"<|eot_id|>\" }}\n        {%- endif %}\n    {%- elif message.role == \"tool\" or message.role == \"ipython\" %}\n        {{- \"<|start_header_id|>ipython<|end_header_id|>\\n\\n\" }}\n        {%- if message.content is mapping or message.content is iterable %}\n            {{- message.content | tojson }}\n        {%- else %}\n            {{- message.content }}\n        {%- endif %}\n        {{- \"<|eot_id|>\" }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n""" + '"')

MISTRAL_V01 = r"{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"

# Mistral-7B-Instruct-v0.2 (and the updated v0.1 / Mixtral-8x7B-Instruct): optional system message.
MISTRAL_V02 = r"""{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""

MISTRAL_V03 = r"""{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if (message == user_messages[-1]) and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""

QWEN2 = json.loads('"' + r"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}" + '"')

QWEN25 = json.loads('"' + r"""{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n    {%- for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n        {%- if message.content %}\n            {{- '\\n' + message.content }}\n        {%- endif %}\n        {%- for tool_call in message.tool_calls %}\n            {%- if tool_call.function is defined %}\n                {%- set tool_call = tool_call.function %}\n            {%- endif %}\n            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n            {{- tool_call.name }}\n            {{- '\", \"arguments\": ' }}\n            {{- tool_call.arguments | tojson }}\n            {{- '}\\n</tool_call>' }}\n        {%- endfor %}\n        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %}\n        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n            {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n' }}\n        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n            {{- '<|im_end|>\\n' }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n""" + '"')

TINYLLAMA = json.loads('"' + r"""{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}""" + '"')

# Phi-4-mini-instruct's tokenizer_config.json chat_template, verbatim as quoted in
# guidance-ai/guidance, guidance/chat.py (commit 5413339a, "[06/16/25]
# https://huggingface.co/microsoft/Phi-4-mini-instruct/blob/main/tokenizer_config.json#L104").
# Tools ride on the system message as a JSON string field (`tools`), not the tools argument.
PHI4_MINI = r"{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}"

# Gemma 3 instruct's (google/gemma-3-*-it) tokenizer_config.json chat_template, verbatim as quoted
# with its "bos_token": "<bos>" line in ShishirPatil/gorilla,
# berkeley-function-call-leaderboard/bfcl/model_handler/local_inference/gemma.py (commit 72055c51);
# the same text appears in other repositories' tests as google/gemma-3-4b-it's. A system message
# becomes a prefix of the first user turn; content may be a string or a list of
# {"type": "text"} / {"type": "image"} parts (an image part renders as <start_of_image>).
GEMMA3 = json.loads('"' + r"""{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if messages[0]['content'] is string -%}\n        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n    {%- else -%}\n        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n    {%- endif -%}\n    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \"\" -%}\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n    {%- endif -%}\n    {%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n    {%- else -%}\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n    {%- if message['content'] is string -%}\n        {{ message['content'] | trim }}\n    {%- elif message['content'] is iterable -%}\n        {%- for item in message['content'] -%}\n            {%- if item['type'] == 'image' -%}\n                {{ '<start_of_image>' }}\n            {%- elif item['type'] == 'text' -%}\n                {{ item['text'] | trim }}\n            {%- endif -%}\n        {%- endfor -%}\n    {%- else -%}\n        {{ raise_exception(\"Invalid content type\") }}\n    {%- endif -%}\n    {{ '<end_of_turn>\n' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n    {{'<start_of_turn>model\n'}}\n{%- endif -%}\n""" + '"')

# ---- conversations ----
SYS = {"role": "system", "content": "You are a concise assistant."}
U1 = {"role": "user", "content": "Hello! What's 2+2?"}
A1 = {"role": "assistant", "content": "  2+2 is 4.  "}
U2 = {"role": "user", "content": "Thanks — and in French? \"quatre\" ✓ 👋\n"}

CHATS = {
    "single": [U1],
    "system": [SYS, U1],
    "multi": [U1, A1, U2],
    "system_multi": [SYS, U1, A1, U2],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_temperature",
        "description": "Get the current temperature at a location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The location, as \"City, Country\"."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
            },
            "required": ["location", "unit"],
        },
        "return": {"type": "number"},
    },
}
CALL = {"location": "Paris, France", "unit": "celsius"}


def tool_chat(with_ids=False):
    call = {"type": "function", "function": {"name": "get_current_temperature", "arguments": CALL}}
    if with_ids:
        call["id"] = "abcDEF123"
    tool_msg = {"role": "tool", "name": "get_current_temperature", "content": "22.0"}
    if with_ids:
        tool_msg["tool_call_id"] = "abcDEF123"
    return [
        {"role": "user", "content": "What's the temperature in Paris now?"},
        {"role": "assistant", "tool_calls": [call]},
        tool_msg,
    ]


def qwen_tool_chat():
    calls = [
        {"type": "function", "function": {"name": "get_current_temperature", "arguments": CALL}},
        {"function": {"name": "get_current_temperature", "arguments": {"location": "Zürich, Switzerland", "unit": "celsius"}}},
    ]
    return [
        SYS,
        {"role": "user", "content": "Temperatures in Paris and Zürich?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": calls},
        {"role": "tool", "name": "get_current_temperature", "content": "22.0"},
        {"role": "tool", "name": "get_current_temperature", "content": "{\"temp\": 18.5}"},
        {"role": "assistant", "content": "Paris: 22 °C, Zürich: 18.5 °C."},
        {"role": "user", "content": "Thanks"},
    ]


def render(template, messages, gen, tools=None, extra=None, bos="<s>", eos="</s>"):
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>")),
        bos_token=bos, eos_token=eos, chat_template=template)
    return tok.apply_chat_template(messages, tools=tools, tokenize=False,
                                   add_generation_prompt=gen, **(extra or {}))


def cases_for(name, template, bos, eos, chats, tool_cases=(), error_cases=()):
    cases = []
    for chat_name in chats:
        for gen in (False, True):
            cases.append({"name": f"{chat_name}{'+gen' if gen else ''}", "messages": CHATS[chat_name],
                          "add_generation_prompt": gen, "extra": {}})
    for case_name, messages, tools, extra in tool_cases:
        for gen in (False, True):
            cases.append({"name": f"{case_name}{'+gen' if gen else ''}", "messages": messages,
                          "add_generation_prompt": gen, "tools": tools, "extra": extra})
    for case in cases:
        case["expected"] = render(template, case["messages"], case["add_generation_prompt"],
                                  case.get("tools"), case["extra"], bos, eos)
    for case_name, messages in error_cases:
        try:
            render(template, messages, False, None, {}, bos, eos)
        except Exception as error:  # jinja2.exceptions.TemplateError from raise_exception
            cases.append({"name": case_name, "messages": messages, "add_generation_prompt": False,
                          "extra": {}, "expected_error": str(error)})
        else:
            raise SystemExit(f"{name}/{case_name}: expected an error")
    return {"model": name, "template": template, "bos_token": bos, "eos_token": eos, "cases": cases}


# Small templates exercising the Jinja subset one feature at a time, rendered by the same
# apply_chat_template path (messages = SYS, U1, A1, U2; extra variables as given).
SNIPPETS = [
    ("whitespace_control", "A  {{- ' x ' -}}  B\n  {%- if true %} C {% endif -%}\n  D {#- c -#}  E", {}),
    ("trim_lstrip_blocks", "<ul>\n    {% for m in messages %}\n    <li>{{ m.role }}</li>\n    {% endfor %}\n</ul>\n", {}),
    ("plus_modifiers", "a\n    {%+ if true +%}\nb\n    {% endif %}\nc", {}),
    ("comment_lines", "x\n  {# note #}\ny {# inline #} z\n", {}),
    ("raw_block", "{% raw %}{{ not rendered }} {% if %}{% endraw %}!", {}),
    ("loop_fields", "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }};{% endfor %}", {}),
    ("loop_prev_next", "{% for x in [1, 2, 3] %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}", {}),
    ("loop_filter_else", "{% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.content[:5] }} {% endfor %}{% for x in [] %}no{% else %}empty{% endfor %}", {}),
    ("loop_dict_items", "{% for k, v in {'b': 1, 'a': [2, 3]}.items() %}{{ k }}={{ v }};{% endfor %}{% for k in {'z': 0, 'y': 1} %}{{ k }}{% endfor %}{% for k, v in meta | items %}{{ k }}:{{ v }},{% endfor %}", {"meta": {"x": 1.5, "y": None}}),
    ("loop_break_continue", "{% for i in range(10) %}{% if i is odd %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("set_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}|{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.count = ns.count + 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}", {}),
    ("set_block_and_tuple", "{% set a, b = [1, 'two'] %}{% set body %}[{{ a }}-{{ b }}]{% endset %}{{ body | upper }}", {}),
    ("if_elif_else", "{% for n in [0, 1, 2, 3] %}{% if n == 0 %}zero{% elif n == 1 %}one{% elif n is even %}even{% else %}odd{% endif %} {% endfor %}", {}),
    ("conditional_expr", "{{ 'yes' if messages else 'no' }} {{ 'a' if false }}|{{ (1 if true else 2) + 1 }}", {}),
    ("literals_and_printing", "{{ none }} {{ true }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1e20 }} {{ [1, 'a', none, true, 2.5] }} {{ {'k': 'it\\'s', 'n': [1]} }} {{ 'x' ~ 1 ~ none }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ [1] + [2] }}", {}),
    ("string_escapes", "{{ 'tab\\there' }}|{{ \"quote\\\"d\" }}|{{ 'new\\nline' }}|{{ 'u\\u00e9' }}|{{ 'keep\\d' }}|{{ 'adj' 'acent' }}", {}),
    ("comparisons_and_logic", "{{ 1 < 2 <= 2 }} {{ 3 > 2 > 1 }} {{ 1 == 1 == true }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 'x' in 'xyz' }} {{ 2 not in [1, 3] }} {{ 'role' in messages[0] }} {{ none or 'fallback' }} {{ 0 and 1 }} {{ not messages }} {{ [] or [] }}", {}),
    ("subscripts_and_slices", "{{ messages[-1].role }} {{ messages[0]['content'][:3] }} {{ 'abcdef'[1:5:2] }} {{ 'abcdef'[::-1] }} {{ [1, 2, 3, 4][-2:] }} {{ messages[1:] | length }} {{ 'héllo'[1] }}", {}),
    ("tests", "{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ 1 is integer }} {{ 1.5 is float }} {{ {} is mapping }} {{ 'a' is iterable }} {{ [] is sequence }} {{ 6 is divisibleby 3 }} {{ 3 is odd }} {{ 'a' is equalto 'a' }} {{ x is not none }} {{ true is boolean }} {{ 'abc' is lower }} {{ raise_exception is callable }}", {"x": 1}),
    ("filters_text", "{{ '  pad  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'MiXed' | lower }}|{{ 'MiXed' | upper }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'a-b-c' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 42 | string }}|{{ '7' | int + 1 }}|{{ 'x' | int }}|{{ '2.5' | float }}|{{ -3 | abs }}", {}),
    ("filters_seq", "{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ 'abc' | list }} {{ [1, 2] | join('-') }} {{ messages | map(attribute='role') | join(',') }} {{ [1, 1, 2] | unique | list }} {{ [1, 2, 3] | sum }} {{ [3, 5, 4] | max }} {{ [3, 5, 4] | min }} {{ [1, 2] | reverse | list }} {{ 'abc' | reverse }} {{ undefined_thing | default('dflt') }} {{ '' | default('empty', true) }} {{ [1, 2, 3] | length }} {{ {'a': 1} | count }}", {}),
    ("filters_select", "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | map('trim') | join(' / ') }}|{{ messages | rejectattr('role', 'in', ['user', 'system']) | list | length }}|{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [0, 1, '', 'a'] | select | list }}|{{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(', ') }}", {}),
    ("tojson", "{{ data | tojson }}\n{{ data | tojson(indent=2) }}\n{{ data | tojson(separators=(',', ':')) }}\n{{ data | tojson(sort_keys=true) }}\n{{ data | tojson(ensure_ascii=true) }}\n{{ [] | tojson(indent=2) }} {{ {} | tojson }} {{ 'x\"\\\\\\u0001' | tojson }}", {"data": {"z": [1, 2.5, None, True], "a": "é\n\"q\"", "m": {}, "e": [], "n": -0.0001}}),
    ("string_methods", "{{ '  x  '.strip() }}|{{ 'xyx'.strip('x') }}|{{ '  x'.lstrip() }}|{{ 'x  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a.b.c'.rsplit('.', 1) }}|{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'ab'.upper() }}|{{ 'AB'.lower() }}|{{ 'a-b'.replace('-', '_') }}|{{ 'hello'.find('l') }}|{{ ', '.join(['x', 'y']) }}|{{ 'think</think>answer'.split('</think>')[-1] }}", {}),
    ("dict_methods", "{{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('zz', 'none!') }} {{ d.get('zz') }} {{ d['b'] }} {{ d.b }} {{ d.missing is defined }} {{ d | length }} {{ dict(x=1)['x'] }}", {"d": {"b": 2, "a": 1}}),
    ("message_equality", "{% set users = messages | selectattr('role', 'equalto', 'user') | list %}{% for m in messages %}{{ m == users[-1] }} {% endfor %}", {}),
    ("undefined_attribute_chain", "{{ messages[0].nothing is defined }} {{ messages[0].content.content is defined }} [{{ messages[0].nothing }}] {{ messages[0].nothing | length }}", {}),
    ("generation_block", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.role }}{% endif %}|{% endfor %}", {}),
    ("undefined_behaviour", "{{ x | trim }}|{{ x | upper }}|{{ x | replace('a', 'b') }}|{{ x | length }}|{{ x ~ 'a' }}|{{ x | join(',') }}|{{ x | first }}|{{ x | list }}|{{ x | items | list }}|{{ x is iterable }}|{{ x == none }}|{{ 'a' in x }}|{{ not x }} {{ x and 1 }} {{ x or 2 }}|{% if x %}t{% else %}f{% endif %}|{{ (x if false) is defined }}|{{ [] | first is defined }}|{% for a in x %}never{% endfor %}", {}),
    ("numbers_and_namespace_repr", "{{ namespace(b='x', a=1) }}|{{ 10 / 4 }} {{ 10 // 4 }} {{ 2.0 ** 2 }} {{ 7 % 2.5 }} {{ -7.5 // 2 }}|{{ 3 | float }} {{ '3' | float }} {{ 2.7 | int }} {{ true + 1 }}|{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }}|{{ 'x'.count('x') }}|{{ [1, 2] | map('string') | join }}", {}),
    ("crlf_and_trailing_newline", "line1\r\n{% if true %}\r\nline2\r\n{% endif %}\r\n", {}),
]


def snippet_fixture():
    cases = []
    for name, template, extra in SNIPPETS:
        cases.append({"name": name, "template": template, "messages": CHATS["system_multi"],
                      "add_generation_prompt": False, "extra": extra,
                      "expected": render(template, CHATS["system_multi"], False, None, extra)})
    return {"model": "jinja-semantics", "bos_token": "<s>", "eos_token": "</s>", "cases": cases}


def thinking_fixtures(templates: pathlib.Path, all_chats):
    """Qwen3 and SmolLM3: every chat with thinking on and off, and a history whose earlier
    assistant turn carries reasoning (the templates strip it from turns before the last query)."""
    reasoned = [U1, {"role": "assistant", "content": "<think>\nAdd the numbers.\n</think>\n\n2+2 is 4."}, U2]
    reasoned_field = [U1, {"role": "assistant", "content": "2+2 is 4.", "reasoning_content": "Add the numbers."}, U2]
    def cases(extra_cases=()):
        return [(f"{c}_think_{on}", CHATS[c], None, {"enable_thinking": on}) for c in all_chats for on in (True, False)] + [
            ("reasoned_history", reasoned, None, {}), ("reasoned_history_no_think", reasoned, None, {"enable_thinking": False}),
            *extra_cases]
    qwen3 = (templates / "Qwen-Qwen3-0.6B.jinja").read_text(encoding="utf-8")
    smollm3 = (templates / "HuggingFaceTB-SmolLM3-3B.jinja").read_text(encoding="utf-8")
    return {
        "qwen3": cases_for("Qwen3-0.6B", qwen3, "", "<|im_end|>", [],
                           tool_cases=cases([("reasoning_content_field", reasoned_field, None, {}),
                                             ("tools", qwen_tool_chat(), [WEATHER_TOOL], {})])),
        "smollm3": cases_for("SmolLM3-3B", smollm3, "", "<|im_end|>", [], tool_cases=cases()),
    }


def llama_cpp_fixtures(templates: pathlib.Path, all_chats, alternating_error):
    """Gemma 2 (no system role, strict alternation, trims content) and Phi-3.5-mini (skips an
    empty system message and unknown roles; eos_token when no generation prompt)."""
    gemma2 = (templates / "google-gemma-2-2b-it.jinja").read_text(encoding="utf-8")
    phi35 = (templates / "microsoft-Phi-3.5-mini-instruct.jinja").read_text(encoding="utf-8")
    assistant_last = ("assistant_last", [U1, A1], None, {})
    # Gemma trims each turn with Python's str.strip, whose whitespace includes U+001C…U+001F.
    odd_spaces = ("unicode_whitespace", [{"role": "user", "content": "\x1f\u3000Hi\xa0\x1c"},
                                         {"role": "assistant", "content": "\u2003ok\x1e\n"}], None, {})
    return {
        "gemma2": cases_for("gemma-2-2b-it", gemma2, "<bos>", "<eos>", ["single", "multi"],
                            tool_cases=[assistant_last, odd_spaces],
                            error_cases=[alternating_error, ("system_role", CHATS["system"])]),
        "phi3_5_mini": cases_for(
            "Phi-3.5-mini-instruct", phi35, "<s>", "<|endoftext|>", all_chats,
            tool_cases=[assistant_last, ("empty_system", [{"role": "system", "content": ""}, U1], None, {}),
                        ("unknown_role", [U1, A1, {"role": "tool", "content": "22.0"}, U2], None, {})]),
    }

def gemma3_fixture(all_chats, alternating_error):
    """Gemma 3 instruct: the system message folded into the first user turn, turns trimmed, and
    content as a list of parts ({"type": "text"} trimmed one by one, {"type": "image"} as
    <start_of_image>; a system message's first part's text is its prefix)."""
    def text(t):
        return {"type": "text", "text": t}
    parts_chat = [{"role": "user", "content": [text(" Hello! "), text("What's 2+2?\n")]},
                  {"role": "assistant", "content": [text("  2+2 is 4.  ")]},
                  {"role": "user", "content": [text("Thanks")]}]
    parts_system = [{"role": "system", "content": [text("You are a concise assistant."), text("Ignored.")]},
                    {"role": "user", "content": [text("Hello!")]}]
    image = [{"role": "user", "content": [{"type": "image"}, text(" Describe this image. "), {"type": "image"},
                                          {"type": "audio"}]}]
    string_system_parts_user = [SYS, {"role": "user", "content": [{"type": "image"}, text("What is this?")]}]
    return cases_for(
        "gemma-3-4b-it", GEMMA3, "<bos>", "<eos>", all_chats,
        tool_cases=[("assistant_last", [U1, A1], None, {}),
                    ("unicode_whitespace", [{"role": "user", "content": "\x1f\u3000Hi\xa0\x1c"},
                                            {"role": "assistant", "content": "\u2003ok\x1e\n"}], None, {}),
                    ("parts_multi", parts_chat, None, {}),
                    ("parts_system", parts_system, None, {}),
                    ("parts_image", image, None, {}),
                    ("string_system_parts_user", string_system_parts_user, None, {}),
                    # transformers drops a message's None-valued keys, so the template sees no
                    # content (undefined, which is iterable and empty) rather than none.
                    ("content_none", [U1, {"role": "assistant", "content": None}], None, {})],
        error_cases=[alternating_error, ("assistant_first", [A1]),
                     ("system_then_assistant", [SYS, A1]),
                     ("content_number", [{"role": "user", "content": 42}])])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp-templates", type=pathlib.Path, help="llama.cpp's models/templates folder (Qwen3, SmolLM3, Gemma 2, Phi-3.5-mini)")
    ap.add_argument("--only", action="append", help="write only this fixture (repeatable)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    alternating_error = ("non_alternating", [U1, {"role": "user", "content": "again"}])
    all_chats = ["single", "system", "multi", "system_multi"]
    date = {"date_string": "05 Mar 2025"}
    fixtures = {
        "smollm2": cases_for("SmolLM2-135M-Instruct", smollm2_template(), "<|im_start|>", "<|im_end|>", all_chats),
        "llama2": cases_for("Llama-2-7b-chat-hf", LLAMA2, "<s>", "</s>", all_chats, error_cases=[alternating_error]),
        "llama3": cases_for("Meta-Llama-3-8B-Instruct", LLAMA3, "<|begin_of_text|>", "<|eot_id|>", all_chats),
        "llama3_1": cases_for(
            "Llama-3.1-8B-Instruct", LLAMA31, "<|begin_of_text|>", "<|eot_id|>", all_chats,
            tool_cases=[
                ("tools_in_user", tool_chat(), [WEATHER_TOOL], {}),
                ("tools_in_system", [SYS] + tool_chat(), [WEATHER_TOOL], {"tools_in_user_message": False, **date}),
                ("builtin_tools", [SYS, U1], None, {"builtin_tools": ["code_interpreter", "brave_search", "wolfram_alpha"]}),
                ("builtin_call", [U1, {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "brave_search", "arguments": {"query": "weather Paris"}}}]}],
                 None, {"builtin_tools": ["brave_search"]}),
            ],
            error_cases=[("two_tool_calls", [U1, {"role": "assistant", "tool_calls": [
                {"function": {"name": "a", "arguments": {}}}, {"function": {"name": "b", "arguments": {}}}]}])]),
        "llama3_2": cases_for(
            "Llama-3.2-1B-Instruct", LLAMA32, "<|begin_of_text|>", "<|eot_id|>", [],
            tool_cases=[(c, CHATS[c], None, date) for c in all_chats] + [
                ("tools_in_user", tool_chat(), [WEATHER_TOOL], date),
                ("tools_in_system", [SYS] + tool_chat(), [WEATHER_TOOL], {"tools_in_user_message": False, **date}),
            ]),
        "mistral_v0_1": cases_for("Mistral-7B-Instruct-v0.1", MISTRAL_V01, "<s>", "</s>", ["single", "multi"],
                                  error_cases=[alternating_error, ("system_role", CHATS["system"])]),
        "mistral_v0_2": cases_for("Mistral-7B-Instruct-v0.2", MISTRAL_V02, "<s>", "</s>", all_chats,
                                  error_cases=[alternating_error, ("tool_role", [U1, {"role": "tool", "content": "x"}])]),
        "mistral_v0_3": cases_for(
            "Mistral-7B-Instruct-v0.3", MISTRAL_V03, "<s>", "</s>", all_chats,
            tool_cases=[("tools", tool_chat(with_ids=True) + [{"role": "assistant", "content": "It is 22 °C."}, {"role": "user", "content": "Thanks"}], [WEATHER_TOOL], {})],
            error_cases=[alternating_error, ("bad_tool_id", [U1, {"role": "assistant", "tool_calls": [{"id": "x", "function": {"name": "a", "arguments": {}}}]}])]),
        "qwen2": cases_for("Qwen2-0.5B-Instruct", QWEN2, "", "<|im_end|>", all_chats),
        "qwen2_5": cases_for(
            "Qwen2.5-0.5B-Instruct", QWEN25, "<|endoftext|>", "<|im_end|>", all_chats,
            tool_cases=[("tools", qwen_tool_chat(), [WEATHER_TOOL], {}),
                        ("tools_default_system", qwen_tool_chat()[1:], [WEATHER_TOOL], {})]),
        "tinyllama": cases_for("TinyLlama-1.1B-Chat-v1.0", TINYLLAMA, "<s>", "</s>", all_chats),
        "phi4_mini": cases_for(
            "Phi-4-mini-instruct", PHI4_MINI, "<|endoftext|>", "<|endoftext|>", all_chats,
            tool_cases=[("tools_in_system", [{**SYS, "tools": json.dumps([WEATHER_TOOL["function"]])}, U1], None, {}),
                        ("tools_none", [{**SYS, "tools": None}, U1], None, {}),
                        ("tool_role", [U1, {"role": "assistant", "content": "[get_current_temperature(location=\"Paris, France\")]"},
                                       {"role": "tool", "content": "22.0"}], None, {})]),
        "gemma3": gemma3_fixture(all_chats, alternating_error),
        "jinja_semantics": snippet_fixture(),
    }
    if args.llama_cpp_templates:
        fixtures.update(thinking_fixtures(args.llama_cpp_templates, all_chats))
        fixtures.update(llama_cpp_fixtures(args.llama_cpp_templates, all_chats, alternating_error))
    for name, fixture in fixtures.items():
        if args.only and name not in args.only:
            continue
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(fixture['cases'])} cases")


if __name__ == "__main__":
    main()
