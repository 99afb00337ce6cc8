// nft's tokens: words (keywords, names, numbers, addresses with their
// ranges and ports, which the parser splits by context), quoted strings,
// `$variables`, punctuation, and newlines (a separator, like `;`).
// `#` starts a comment to the end of the line; a backslash before a newline
// continues the line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "netns/result.hpp"

namespace netns::nft {

enum class TokenKind : std::uint8_t { word, string, variable, symbol, newline, end };

struct Token {
  TokenKind kind = TokenKind::end;
  std::string text;  // word, string contents, variable name, symbol ("{", "!=", "==", "<=")
  std::uint32_t line = 1, column = 1;  // 1-based, of the first character
  std::uint32_t length = 1;            // characters in the script (for the caret)
};

struct LexError {
  std::uint32_t line = 1, column = 1;
  std::string message;
};

// Splits `script` into tokens ending with one `end`; on a character nft does
// not accept (or an unterminated string), the error says where.
std::vector<Token> tokenize(std::string_view script, LexError* error);

}  // namespace netns::nft
