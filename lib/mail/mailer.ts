import nodemailer from 'nodemailer';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /**
   * Resolves once the server accepted the mail. Throws MailRefused when the server refused this mail
   * (its recipient or content); any other error means the server could not be reached or used.
   */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/**
 * The SMTP server refused this one mail, with its reply. `permanent` for a 5xx reply (no such
 * mailbox, address rejected): sending it again gets the same answer. A 4xx reply (mailbox full,
 * greylisting) may pass later.
 */
export class MailRefused extends Error {
  constructor(
    readonly reply: string,
    readonly permanent: boolean,
  ) {
    super(`The mail server refused the mail: ${reply}`);
    this.name = 'MailRefused';
  }
}

/** Connections kept open to the SMTP server; a run's mails share them instead of one per mail. */
export const SMTP_CONNECTIONS = 3;

/** nodemailer's error codes for a reply about the mail itself (envelope or content), not the connection. */
const REFUSAL_CODES = new Set(['EENVELOPE', 'EMESSAGE']);

/**
 * SMTP delivery from an smtp:// or smtps:// URL (credentials, if any, live in the URL), over a small
 * pool of connections. The timeouts are far below nodemailer's defaults (up to 10 minutes of
 * silence) so that a server that stops answering fails the send within a minute and the activity
 * retries, instead of hanging past its heartbeat.
 */
export function createSmtpMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: SMTP_CONNECTIONS,
    // A connection that closes under a send fails that send at once instead of nodemailer retrying
    // it by itself: the activity retries what is still owed, with backoff, and the outbox shows it.
    maxRequeues: 0,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  });
  return {
    async send(mail) {
      try {
        await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
      } catch (err) {
        const { code, responseCode, response, permanent } = err as {
          code?: string;
          responseCode?: number;
          response?: string;
          permanent?: boolean;
        };
        // 421 is the server closing the connection (shutting down, overloaded): nothing about this
        // mail. nodemailer's `permanent` is a 5xx reply other than 503 (a session out of step).
        if (code && REFUSAL_CODES.has(code) && responseCode && responseCode !== 421) {
          throw new MailRefused(response ?? String(responseCode), permanent === true);
        }
        throw err;
      }
    },
    close: () => transport.close(),
  };
}
