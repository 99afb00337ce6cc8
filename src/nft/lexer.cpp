#include "nft/lexer.hpp"

#include <cctype>

namespace netns::nft {

namespace {

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == ':' || c == '-' ||
         c == '*';
}

}  // namespace

std::vector<Token> tokenize(std::string_view s, LexError* error) {
  std::vector<Token> out;
  std::uint32_t line = 1, col = 1;
  std::size_t i = 0;
  auto advance = [&](std::size_t n) {
    for (std::size_t k = 0; k < n && i < s.size(); ++k, ++i) {
      if (s[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  auto push = [&](TokenKind kind, std::string text, std::uint32_t l, std::uint32_t c, std::uint32_t len) {
    out.push_back(Token{kind, std::move(text), l, c, len});
  };
  while (i < s.size()) {
    const char c = s[i];
    const std::uint32_t l = line, cl = col;
    if (c == '\\' && i + 1 < s.size() && s[i + 1] == '\n') {
      advance(2);
    } else if (c == ' ' || c == '\t' || c == '\r') {
      advance(1);
    } else if (c == '#') {
      while (i < s.size() && s[i] != '\n') advance(1);
    } else if (c == '\n') {
      push(TokenKind::newline, "\n", l, cl, 1);
      advance(1);
    } else if (c == '"') {
      std::size_t j = i + 1;
      while (j < s.size() && s[j] != '"' && s[j] != '\n') ++j;
      if (j >= s.size() || s[j] != '"') {
        *error = {l, cl, "unterminated string"};
        return {};
      }
      push(TokenKind::string, std::string(s.substr(i + 1, j - i - 1)), l, cl, static_cast<std::uint32_t>(j - i + 1));
      advance(j - i + 1);
    } else if (c == '$') {
      std::size_t j = i + 1;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) != 0 || s[j] == '_')) ++j;
      if (j == i + 1) {
        *error = {l, cl, "syntax error, a variable name must follow '$'"};
        return {};
      }
      push(TokenKind::variable, std::string(s.substr(i + 1, j - i - 1)), l, cl, static_cast<std::uint32_t>(j - i));
      advance(j - i);
    } else if (word_char(c)) {
      std::size_t j = i;
      while (j < s.size() && word_char(s[j])) ++j;
      push(TokenKind::word, std::string(s.substr(i, j - i)), l, cl, static_cast<std::uint32_t>(j - i));
      advance(j - i);
    } else if ((c == '!' || c == '=' || c == '<' || c == '>') && i + 1 < s.size() && s[i + 1] == '=') {
      push(TokenKind::symbol, std::string(s.substr(i, 2)), l, cl, 2);
      advance(2);
    } else if (std::string_view("{};,/&|()=<>@+![]").find(c) != std::string_view::npos) {
      push(TokenKind::symbol, std::string(1, c), l, cl, 1);
      advance(1);
    } else {
      *error = {l, cl, std::string("syntax error, unexpected character '") + c + "'"};
      return {};
    }
  }
  push(TokenKind::end, "", line, col, 1);
  return out;
}

}  // namespace netns::nft
