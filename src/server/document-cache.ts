import { Kind, visit, type ASTNode, type DocumentNode, type Token } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * What a parsed document keeps alive, per token of its text. graphql-js links every token
 * (comments too) from the document's location, beside the AST itself; measured with graphql 16
 * on documents of 40 to 3,000 tokens, that is 500 to 525 bytes a token, whatever the text's
 * length. A document of LIMIT_TOKENS tokens in 23 KB of text keeps about 1.5 MB.
 */
const PARSED_BYTES_PER_TOKEN = 600;
/** What graphql-jit's code for one operation takes per token of its document: measured 630 to 850 bytes. */
const COMPILED_BYTES_PER_TOKEN = 1000;
/** A remembered parse error: the error with its stack and locations, beside the text. */
const PARSE_ERROR_BYTES = 2048;

const tokensOf = new WeakMap<DocumentNode, number>();

/** Tokens of a node's text (from its first token to its last); its AST nodes when it has no location. */
function tokensIn(node: ASTNode): number {
  let count = 0;
  if (node.loc) {
    const end = node.loc.endToken;
    for (let token: Token | null = node.loc.startToken; token !== null; token = token.next) {
      count++;
      if (token === end) break;
    }
  }
  if (count === 0) visit(node, { enter: () => void count++ });
  return count;
}

/** Tokens (comments included) the document keeps linked from its location; AST nodes when it has none. */
export function documentTokens(document: DocumentNode): number {
  let count = tokensOf.get(document);
  if (count === undefined) tokensOf.set(document, (count = tokensIn(document)));
  return count;
}

/** Estimated bytes a parsed document keeps alive, without its text. */
export function documentBytes(document: DocumentNode): number {
  return PARSED_BYTES_PER_TOKEN * documentTokens(document);
}

/** Estimated bytes a parsed document and its text (the cache's key) keep alive. */
export function parsedDocumentBytes(text: string, document: DocumentNode): number {
  return 2 * text.length + documentBytes(document);
}

/**
 * Estimated bytes of graphql-jit's code for one operation of a document: the operation's own
 * definition and the fragments (all of them: which ones it spreads is not worth working out
 * here). Not the whole document: a document of many small operations compiles each small.
 */
export function compiledOperationBytes(document: DocumentNode, operationName: string | null | undefined): number {
  let tokens = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) tokens += tokensIn(definition);
    else if (definition.kind === Kind.OPERATION_DEFINITION && (!operationName || definition.name?.value === operationName)) tokens += tokensIn(definition);
  }
  return COMPILED_BYTES_PER_TOKEN * Math.max(1, tokens);
}

export interface DocumentCaches {
  /** yoga's parser cache: documents by their text. */
  documentCache: LRUCache<string, DocumentNode>;
  /** yoga's parser cache: parse errors by the text that caused them. */
  errorCache: { get(text: string): object | undefined; set(text: string, error: object): void; readonly calculatedSize: number };
}

export interface DocumentCachesOptions {
  maxBytes: number;
  /**
   * Whether a parse error is remembered. One that is not is met again by the parser plugins
   * (the query limits count their refusals there), at the price of a parse that stops where
   * it failed. @default all are
   */
  remembersError?(error: object): boolean;
}

/**
 * yoga's parser caches, bounded by bytes. yoga's own are bounded by count (1,024 each): a
 * client sending distinct documents of LIMIT_TOKENS tokens (any bearer string will do: a
 * document is parsed before its token is tried) could make them hold 1.5 GB. Errors get an
 * eighth of the budget.
 */
export function createDocumentCaches(options: DocumentCachesOptions): DocumentCaches {
  const { maxBytes, remembersError = () => true } = options;
  const errors = new LRUCache<string, object>({ maxSize: Math.max(1, Math.floor(maxBytes / 8)), sizeCalculation: (_error, text) => 2 * text.length + PARSE_ERROR_BYTES });
  return {
    documentCache: new LRUCache<string, DocumentNode>({ maxSize: maxBytes, sizeCalculation: (document, text) => parsedDocumentBytes(text, document) }),
    errorCache: {
      get: (text) => errors.get(text),
      set: (text, error) => void (remembersError(error) && errors.set(text, error)),
      get calculatedSize() {
        return errors.calculatedSize;
      },
    },
  };
}
