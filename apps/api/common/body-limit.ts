/** JSON bodies are small configs; anything bigger is refused before it is parsed. */
export const JSON_BODY_LIMIT_BYTES = 100 * 1024;
