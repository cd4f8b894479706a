import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A local SMTP server that delivers nowhere: every message is kept as an .eml file and listed on a
 * small web page, so a person (or a test) can read what rostersync sent.
 */
export interface CaughtMessage {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  receivedAt: string;
}

export interface SmtpCatcher {
  smtpPort: number;
  httpPort: number | null;
  messages(): Promise<CaughtMessage[]>;
  close(): Promise<void>;
}

export async function startSmtpCatcher(opts: {
  dir: string;
  smtpPort: number;
  httpPort?: number;
}): Promise<SmtpCatcher> {
  fs.mkdirSync(opts.dir, { recursive: true });
  let sequence = fs.readdirSync(opts.dir).filter((f) => f.endsWith('.eml')).length;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'rostersync mail catcher',
    size: 10 * 1024 * 1024,
    onData(stream, _session, callback) {
      const name = `${Date.now()}-${String(++sequence).padStart(6, '0')}.eml`;
      const out = fs.createWriteStream(path.join(opts.dir, name));
      stream.pipe(out);
      out.on('finish', () => callback());
      out.on('error', (err) => callback(err));
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(opts.smtpPort, '127.0.0.1', () => resolve());
  });
  const smtpAddress = smtp.server.address();
  const smtpPort = typeof smtpAddress === 'object' && smtpAddress ? smtpAddress.port : opts.smtpPort;

  async function messages(): Promise<CaughtMessage[]> {
    const files = (await fs.promises.readdir(opts.dir)).filter((f) => f.endsWith('.eml')).sort();
    return await Promise.all(
      files.map(async (file) => {
        const parsed = await simpleParser(await fs.promises.readFile(path.join(opts.dir, file)));
        const to = (Array.isArray(parsed.to) ? parsed.to : parsed.to ? [parsed.to] : []).flatMap((a) =>
          a.value.map((v) => v.address ?? ''),
        );
        return {
          id: file.replace(/\.eml$/, ''),
          from: parsed.from?.text ?? '',
          to,
          subject: parsed.subject ?? '',
          text: parsed.text ?? '',
          receivedAt: (parsed.date ?? new Date()).toISOString(),
        };
      }),
    );
  }

  let web: http.Server | undefined;
  if (opts.httpPort !== undefined) {
    web = http.createServer((req, res) => {
      messages().then(
        (list) => {
          if (req.url?.startsWith('/messages')) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(list, null, 2));
            return;
          }
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          res.end(renderInbox(list));
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      web!.once('error', reject);
      web!.listen(opts.httpPort, '127.0.0.1', () => resolve());
    });
  }
  const webAddress = web?.address();
  return {
    smtpPort,
    httpPort: typeof webAddress === 'object' && webAddress ? webAddress.port : null,
    messages,
    close: async () => {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      if (web) await new Promise<void>((resolve) => web!.close(() => resolve()));
    },
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

function renderInbox(list: CaughtMessage[]): string {
  const items = list
    .slice()
    .reverse()
    .map(
      (m) =>
        `<article><h3>${escapeHtml(m.subject)}</h3><p><b>To:</b> ${escapeHtml(m.to.join(', '))} · ${escapeHtml(m.receivedAt)}</p><pre>${escapeHtml(m.text)}</pre></article>`,
    )
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>rostersync mail</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}article{border-bottom:1px solid #ccc}pre{white-space:pre-wrap}</style>
<h1>Mail caught by the local SMTP server (${list.length})</h1>${items || '<p>No mail yet.</p>'}`;
}
