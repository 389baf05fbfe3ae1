import Foundation

/// Fallback templates for models whose GGUF carries no `tokenizer.chat_template`. They
/// reproduce llama.cpp's hard-coded formats (src/llama-chat.cpp: LLM_CHAT_TEMPLATE_GEMMA and
/// LLM_CHAT_TEMPLATE_CHATML), so a model renders the same prompt here as under llama.cpp.
public enum BuiltinChatTemplates {
    /// The template for a GGUF `general.architecture`; ChatML for anything not Gemma.
    public static func source(forArchitecture architecture: String) -> String? {
        architecture.lowercased().hasPrefix("gemma") ? gemma : chatml
    }

    /// Content may be a string or a list of `{type: "text", text: ...}` parts.
    private static let contentText = #"""
    {%- macro content_text(content) -%}
    {%- if content is string -%}{{- content -}}
    {%- elif content is iterable and content is not mapping -%}
    {%- for part in content if part is mapping and part.type == 'text' -%}{{- part.text -}}{%- endfor -%}
    {%- elif content is not none -%}{{- content -}}
    {%- endif -%}
    {%- endmacro -%}

    """#

    /// Gemma turns: no system role, so system text (trimmed like llama.cpp's ASCII trim) is
    /// prepended to the next user turn; the assistant role is called "model".
    public static let gemma = contentText + #"""
    {%- set ns = namespace(system='') -%}
    {%- for message in messages -%}
    {%- set content = content_text(message['content']) | trim(' \t\n\r\x0b\x0c') -%}
    {%- if message['role'] == 'system' -%}
    {%- set ns.system = ns.system + content -%}
    {%- else -%}
    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
    {{- '<start_of_turn>' + role + '\n' -}}
    {%- if ns.system and role != 'model' -%}
    {{- ns.system + '\n\n' -}}
    {%- set ns.system = '' -%}
    {%- endif -%}
    {{- content + '<end_of_turn>\n' -}}
    {%- endif -%}
    {%- endfor -%}
    {%- if add_generation_prompt -%}
    {{- '<start_of_turn>model\n' -}}
    {%- endif -%}
    """#

    public static let chatml = contentText + #"""
    {%- for message in messages -%}
    {{- '<|im_start|>' + message['role'] + '\n' + content_text(message['content']) + '<|im_end|>\n' -}}
    {%- endfor -%}
    {%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\n' -}}
    {%- endif -%}
    """#
}
