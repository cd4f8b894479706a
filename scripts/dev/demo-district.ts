import fs from 'node:fs';
import path from 'node:path';

/**
 * Creates the demo district through the public API on first start (schools, a sync config, SFTP
 * password) and prints the same credentials on later starts.
 */
export interface DemoDistrict {
  id: string;
  name: string;
  username: string;
  password: string;
  fingerprints: Array<{ algorithm: string; fingerprint: string }>;
}

const DEMO = {
  name: 'Demo Unified School District',
  slug: 'demo',
  timeZone: 'America/Chicago',
  schools: ['Lincoln Elementary School', 'Washington Middle School', 'Roosevelt High School'],
};

export async function seedDemoDistrict(opts: {
  apiUrl: string;
  apiToken: string;
  dataDir: string;
}): Promise<DemoDistrict> {
  const call = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${opts.apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${opts.apiToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  await waitForHealth(opts.apiUrl, 60_000);
  const { districts } = await call<{ districts: Array<{ id: string; name: string; slug: string }> }>(
    'GET',
    '/districts?limit=100',
  );
  let district = districts.find((d) => d.slug === DEMO.slug);
  const passwordFile = path.join(opts.dataDir, 'demo-sftp-password');
  if (!district) {
    district = await call<{ id: string; name: string; slug: string }>('POST', '/districts', {
      name: DEMO.name,
      slug: DEMO.slug,
      timeZone: DEMO.timeZone,
    });
    for (const name of DEMO.schools) await call('POST', `/districts/${district.id}/schools`, { name });
    await call('PUT', `/districts/${district.id}/sync-config`, {
      enabled: false,
      frequency: 'daily',
      startDate: new Date().toISOString().slice(0, 10),
      timeOfDay: '02:00',
      source: 'hosted',
      fileRule: 'latest',
      processOnArrival: false,
      matchingKey: 'email',
      coachingGroups: ['individual'],
      errorThresholdPct: 10,
      welcomeEmails: true,
      notifyEmails: ['admin@demo.example.org'],
      notifyOnSuccess: true,
    });
  }
  let password = fs.existsSync(passwordFile) ? fs.readFileSync(passwordFile, 'utf8').trim() : '';
  let fingerprints: DemoDistrict['fingerprints'];
  if (!password) {
    const creds = await call<{ password: string; hostKeyFingerprints: DemoDistrict['fingerprints'] }>(
      'POST',
      `/districts/${district.id}/sftp-credentials/password`,
    );
    password = creds.password;
    fingerprints = creds.hostKeyFingerprints;
    fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  } else {
    fingerprints = (
      await call<{ hostKeyFingerprints: DemoDistrict['fingerprints'] }>(
        'GET',
        `/districts/${district.id}/sftp-credentials`,
      )
    ).hostKeyFingerprints;
  }
  return { id: district.id, name: district.name, username: district.slug, password, fingerprints };
}

async function waitForHealth(apiUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${apiUrl}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `The API did not answer on ${apiUrl}/health within ${timeoutMs / 1000}s; see the [api] lines above.`,
  );
}
