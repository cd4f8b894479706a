/** The REST API as a district admin's script calls it: bearer token, JSON, a timeout on every call. */
export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfterS?: number;
}

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** The same API with another credential (a district's API key). */
  as(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  /** Answers with the status and body; a network failure or timeout is status 0. */
  async call(method: string, route: string, body?: unknown): Promise<ApiAnswer> {
    try {
      const res = await fetch(`${this.baseUrl}${route}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      const retryAfter = Number(res.headers.get('retry-after'));
      return {
        status: res.status,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      };
    } catch (err) {
      return { status: 0, body: { message: (err as Error).message } };
    }
  }

  /** Like call, but anything other than 2xx is an error naming the route and the answer. */
  async must(method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
    const answer = await this.call(method, route, body);
    if (answer.status < 200 || answer.status > 299)
      throw new Error(`${method} ${route} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
}
