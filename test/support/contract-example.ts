// The configuration example the foundation issue makes part of the contract: it must work exactly as written.
export const contractExampleYaml = `listen: { http: 127.0.0.1:5000, https: 127.0.0.1:5443, admin: 127.0.0.1:5001 }
tls:
  certificates:
    - { cert: certs/fullchain.pem, key: certs/privkey.pem }   # hostnames come from the certificate's SANs
dataDir: ./data
upstreams:
  - { name: hub, registry: docker.io, url: https://registry-1.docker.io, hosts: [hub.mirror.test], default: true }
  - { name: gcr, registry: gcr.io, url: https://gcr.io, hosts: [gcr.mirror.test], auth: { mode: passthrough } }
  - name: corp
    registry: registry.corp.test:5000
    url: https://registry.corp.test:5000
    ca: certs/corp-ca.pem
    auth: { mode: mirror, username: robot, passwordFile: secrets/corp.txt }
`;
